"""Genesys Cloud regions and the base URLs of their hosts.

Each region has ``login.``, ``api.`` and ``streaming.`` hosts on one domain.
Users name a region by its AWS region name (``eu-west-1``) or by its domain
(``mypurecloud.ie``); both resolve to the same ``Region``. The region is always
configuration, never guessed from a token.
"""

from __future__ import annotations

from dataclasses import dataclass

from genesys.errors import ConfigurationError


@dataclass(frozen=True)
class Region:
    """A Genesys Cloud region: its AWS region name and the domain of its hosts."""

    aws_region: str
    domain: str

    @property
    def login_url(self) -> str:
        """Base URL of the OAuth token endpoint host."""
        return f"https://login.{self.domain}"

    @property
    def api_url(self) -> str:
        """Base URL of the REST API host."""
        return f"https://api.{self.domain}"


# The public Genesys Cloud regions, as (AWS region name, domain).
REGIONS: tuple[Region, ...] = (
    Region("us-east-1", "mypurecloud.com"),
    Region("us-east-2", "use2.us-gov-pure.cloud"),  # FedRAMP
    Region("us-west-2", "usw2.pure.cloud"),
    Region("ca-central-1", "cac1.pure.cloud"),
    Region("sa-east-1", "sae1.pure.cloud"),
    Region("mx-central-1", "mxc1.pure.cloud"),
    Region("eu-west-1", "mypurecloud.ie"),
    Region("eu-west-2", "euw2.pure.cloud"),
    Region("eu-central-1", "mypurecloud.de"),
    Region("eu-central-2", "euc2.pure.cloud"),
    Region("eusc-de-east-1", "edee1.eusc-pure.cloud"),
    Region("me-central-1", "mec1.pure.cloud"),
    Region("ap-south-1", "aps1.pure.cloud"),
    Region("ap-southeast-1", "apse1.pure.cloud"),
    Region("ap-southeast-2", "mypurecloud.com.au"),
    Region("ap-northeast-1", "mypurecloud.jp"),
    Region("ap-northeast-2", "apne2.pure.cloud"),
    Region("ap-northeast-3", "apne3.pure.cloud"),
)

_BY_NAME: dict[str, Region] = {
    **{region.aws_region: region for region in REGIONS},
    **{region.domain: region for region in REGIONS},
}


def resolve_region(name: str) -> Region:
    """Return the region named by its AWS region name or its domain, in any case.

    Raises ``ConfigurationError`` listing the valid names when ``name`` is unknown.
    """
    region = _BY_NAME.get(name.strip().lower())
    if region is None:
        valid = ", ".join(f"{region.aws_region} ({region.domain})" for region in REGIONS)
        raise ConfigurationError(
            f"Unknown Genesys Cloud region {name!r}. "
            f"Use an AWS region name or a domain, one of: {valid}."
        )
    return region
