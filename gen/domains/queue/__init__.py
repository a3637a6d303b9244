"""Job queues: exporter conventions, the PromQL for one queue, and the domain that builds rows and alerts."""
