# Edge scenarios.
EDGE_SECTION=""
EDGE_GOALS=""
run_edge_scenarios() { :; }
