"""Motion search as a service: a checkpoint's motion library behind an HTTP API and a web page, on Ray Serve."""
