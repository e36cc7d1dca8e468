// Command khcheck is a Kuberhealthy-style check that knows nothing of KubeProbe: it speaks only
// Kuberhealthy's public check contract. It reads KH_REPORTING_URL, KH_RUN_UUID,
// KH_CHECK_RUN_DEADLINE (Unix seconds) and KH_POD_NAMESPACE, checks that the host named by
// CHECK_HOST resolves (through the cluster's DNS), and POSTs {"OK": ..., "Errors": [...]} to the
// reporting URL with the run's UUID in the kh-run-uuid header.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

type report struct {
	OK     bool     `json:"OK"`
	Errors []string `json:"Errors"`
}

func check(ctx context.Context) []string {
	var errs []string
	if os.Getenv("KH_POD_NAMESPACE") == "" {
		errs = append(errs, "KH_POD_NAMESPACE is not set")
	}
	host := os.Getenv("CHECK_HOST")
	if host == "" {
		return append(errs, "CHECK_HOST is not set")
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return append(errs, fmt.Sprintf("DNS lookup of %s failed: %v", host, err))
	}
	fmt.Printf("%s resolves to %v\n", host, addrs)
	return errs
}

func main() {
	deadline := time.Now().Add(time.Minute)
	if unix, err := strconv.ParseInt(os.Getenv("KH_CHECK_RUN_DEADLINE"), 10, 64); err == nil {
		deadline = time.Unix(unix, 0)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	errs := check(ctx)
	body, _ := json.Marshal(report{OK: len(errs) == 0, Errors: append([]string{}, errs...)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, os.Getenv("KH_REPORTING_URL"), bytes.NewReader(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, "khcheck:", err)
		os.Exit(1)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("kh-run-uuid", os.Getenv("KH_RUN_UUID"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "khcheck: reporting failed:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "khcheck: reporting answered", resp.Status)
		os.Exit(1)
	}
	fmt.Println("reported", string(body))
}
