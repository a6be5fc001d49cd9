"""Worked example: a storefront credits loyalty stars in East US, and the same user's mobile
app logs in from London a moment later and asks whether platinum status is on.

Eventual consistency shows the stale read inside the replication lag; session consistency
(the user's session token travels with them) removes it.
"""

from __future__ import annotations

import pytest

from edgekv import Region, Session

PLATINUM_STARS = 100
USER = "user:42"


async def credit_stars(shop: Region, user: str, stars: int, session: Session | None = None) -> None:
    """The storefront backend after a purchase: read the user's stars and add some."""
    doc = await shop.get(user, "session" if session else "eventual", session=session) or {}
    await shop.patch(user, {"stars": doc.get("stars", 0) + stars}, session=session)


async def platinum_on_login(edge: Region, user: str, session: Session | None = None) -> bool:
    """The mobile login: the flag ``platinum-status-feature`` is on from 100 stars."""
    doc = await edge.get(user, "session" if session else "eventual", session=session) or {}
    return doc.get("stars", 0) >= PLATINUM_STARS


@pytest.mark.asyncio
@pytest.mark.edgekv(regions=["East US", "UK South"], lag="300ms", seed=1)
async def test_login_elsewhere_is_stale_inside_the_lag_and_fresh_after(edgekv_cluster):
    shop, london = edgekv_cluster["East US"], edgekv_cluster["UK South"]
    await shop.put(USER, {"stars": 90})
    await edgekv_cluster.settle()

    await credit_stars(shop, USER, 10)
    await edgekv_cluster.advance(0.2)
    assert not await platinum_on_login(london, USER)  # stale: London still holds 90 stars

    await edgekv_cluster.advance(0.2)
    assert await platinum_on_login(london, USER)

    credit = edgekv_cluster.history.last(USER)
    assert credit.region == "East US" and credit.doc == {"stars": 100}
    assert credit.lag("UK South") == pytest.approx(0.3)


@pytest.mark.asyncio
@pytest.mark.edgekv(regions=["East US", "UK South"], lag="300ms", seed=1)
async def test_session_consistency_removes_the_stale_read(edgekv_cluster):
    shop, london = edgekv_cluster["East US"], edgekv_cluster["UK South"]
    await shop.put(USER, {"stars": 90})
    await edgekv_cluster.settle()

    session = Session()  # the user's token, carried from the shop to the phone
    await credit_stars(shop, USER, 10, session)
    await edgekv_cluster.advance(0.2)
    assert not await platinum_on_login(london, USER)  # without the token: stale
    assert await platinum_on_login(london, USER, session)  # waits or forwards: never stale
