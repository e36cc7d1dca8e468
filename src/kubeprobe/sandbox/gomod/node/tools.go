//go:build tools

// Package node pins k8s.io/kubernetes's node binaries (kubelet, kube-proxy) for the KubeProbe
// sandbox's real nodes: the same module and replaces as the control plane's build.
package node

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
