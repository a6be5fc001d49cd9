"""The sans-IO core: stores, replication, CRDTs, clocks, delays, the network model and the
discrete-event kernel. No event loop, no I/O; drivers and applications sit on top."""
