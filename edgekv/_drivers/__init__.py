"""Drivers that run the core's stores: the asyncio cluster in virtual time, the synchronous
facade, the recorder of histories and the trace builder."""
