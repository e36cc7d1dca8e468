module kubeprobe.local/tests/khcheck

go 1.26.0
