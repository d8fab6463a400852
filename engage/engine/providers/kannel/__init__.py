"""The Kannel provider kind: Kannel's sendsms to send (provider.py, one request per part as
wire.py builds it, settings.py for its config), its dlr-url callbacks to receive (dlr.py), an
sms-service's get-url for subscribers' own messages (mo.py), and its status page for the
provider's health (status_page.py). Importing it registers "kannel"."""

from engage.engine.providers.kannel.dlr import read_dlr
from engage.engine.providers.kannel.mo import read_mo
from engage.engine.providers.kannel.provider import KannelProvider

__all__ = ["KannelProvider", "read_dlr", "read_mo"]
