"""A Genesys Cloud org on loopback: OAuth, REST, notification channels and faults.

Start one with ``Simulator().start()`` (or ``with Simulator() as sim``), point
the service's login and API URLs at ``sim.base_url``, and inject faults with
``sim.faults``. ``python -m simulator`` runs one alone.
"""

from simulator.server import ChannelState, RequestRecord, Simulator, TruthSource

__all__ = ["ChannelState", "RequestRecord", "Simulator", "TruthSource"]
