"""The training engine, metrics and telemetry. No Qt: driven through callbacks and a control token."""
