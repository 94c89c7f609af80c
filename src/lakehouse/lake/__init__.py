"""The lake layer: the Spark session (`spark`), Delta I/O (`delta`), the lake's
write lock (`lakelock`), fault injection for the crash tests (`faults`) and
table maintenance (`maintain`). Imports only settings and the catalog."""
