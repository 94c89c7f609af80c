"""What the tests share and are not tests: hand-made deliveries by the contract
(contract_fixture, late_registry_fixture), a reader of generated feeds
(feed_reader), lake snapshots to compare (lake_snapshot), a Spark Connect
server for a test (warm_engine) and a process to kill on it (killed_on_server)."""
