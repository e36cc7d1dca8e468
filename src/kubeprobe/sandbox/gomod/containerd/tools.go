//go:build tools

// Package containerd pins containerd (daemon, ctr, the runc shim) for the KubeProbe sandbox's real nodes.
package containerd

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
