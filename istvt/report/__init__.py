"""Results tables (ours beside the paper's) and figures."""
