"""Resource namespaces, mirroring Mailkit's dotted function names (`mk.email.unsubscribe`, ...)."""

from ._campaigns import Campaigns, SingleCampaign
from ._email import Email
from ._params import UNSET, Unset
from ._report import BouncePages, BounceStream, RawReport, Report
from ._sendmail_mass import SendmailMass

__all__ = [
    "UNSET",
    "BouncePages",
    "BounceStream",
    "Campaigns",
    "Email",
    "RawReport",
    "Report",
    "SendmailMass",
    "SingleCampaign",
    "Unset",
]
