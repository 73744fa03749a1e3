"""The overview: totals, success rates and the 30-day chart."""
from flask import render_template
from flask_login import login_required

from smsplatform.devices.queries import list_devices
from smsplatform.web import queries
from smsplatform.web.blueprint import bp, me
from smsplatform.web.charts import stacked_daily_chart


@bp.route("/")
@login_required
def overview():
    account = me()
    overall, per_device = queries.totals(account)
    days, series = queries.daily_series(account)
    devices = list_devices(account)
    return render_template(
        "web/overview.html", overall=overall, per_device=per_device, devices=devices,
        chart=stacked_daily_chart(days, series), empty=queries.Totals(),
    )
