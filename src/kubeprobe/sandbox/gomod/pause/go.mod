module kubeprobe.local/sandbox/pause

go 1.26.0
