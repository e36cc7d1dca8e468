"""What case code imports: report_success / report_failure, steps, params. Light: no server deps."""
