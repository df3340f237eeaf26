"""The sync setup from a TOML file: `SyncConfig` reads and checks it, `SyncSetup` is what it opens.

This is where crmconnect's parts are put together (the host, the clients,
their connectors, the state and the `crmconnect.sync.SyncEngine`), so it sits
beside `crmconnect.sync` rather than in it: the engine imports no connector.
``crmconnect sync --config`` uses it; see the guide "The sync config file".
"""

from ._sync_config import SyncConfig, SyncSetup

__all__ = ["SyncConfig", "SyncSetup"]

for _name in __all__:
    globals()[_name].__module__ = "crmconnect.config"
