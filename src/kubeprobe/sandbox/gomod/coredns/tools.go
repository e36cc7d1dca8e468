//go:build tools

// Package coredns pins CoreDNS (cluster DNS) for sandboxes with real nodes.
package coredns

import _ "github.com/coredns/coredns"
