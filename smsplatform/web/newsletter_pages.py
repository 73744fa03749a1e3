"""Newsletters: create and edit with a live preview, schedule, start, pause, resume, cancel, duplicate, delete,
progress."""
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from smsplatform.campaigns import services as campaigns
from smsplatform.contacts.services import tags_with_counts
from smsplatform.db_retry import retry_on_deadlock
from smsplatform.devices.queries import list_devices
from smsplatform.errors import ConflictError, ValidationError
from smsplatform.messaging.service import body_as_sent
from smsplatform.models import Paket
from smsplatform.timeutil import to_zone, utcnow
from smsplatform.web import queries
from smsplatform.web.blueprint import bp, form_time, in_form_words, me, owned, saving, too_large_page
from smsplatform.web.channels import channel_offered, fill_choices
from smsplatform.web.forms import EditNewsletterForm, NewsletterForm, opts, show_error
from smsplatform.web.live import newsletter_refresh
from smsplatform.web.uploads import store_upload, upload_too_large

# What each of the newsletter's buttons did, for the flash (which buttons a state shows, and the call each
# makes, is the service's: campaigns.available_actions, campaigns.ACTION_CALLS).
_PAST = {"start": "scheduled to start now", "unschedule": "moved back to draft", "pause": "paused",
         "resume": "resumed", "cancel": "cancelled"}
_FORM_FIELDS = {"time_to_send": "send_at", "tags": "tag_ids", "file": "image", "media": "image"}
_FORM_WORDS = {"time_to_send": "the send time", "body": "the message", "file": "the image", "media": "the image"}
MAX_PREVIEW_TAGS = 200


def _progress(paket: Paket, stats: dict[str, int]) -> dict:
    """The progress bar's figures, from the newsletter's ``paket_stats`` (the page's one count of its messages)."""
    total = paket.total_recipients if paket.total_recipients is not None else stats["total"]
    done = stats["sent"] + stats["delivered"] + stats["failed"] + stats["opted_out"] + stats["cancelled"]
    return {"total": total, "done": done, "stats": stats, "percent": round(100 * done / total) if total else 0}


@bp.route("/newsletters")
@login_required
def newsletters():
    pakets = queries.account_pakets(me())
    stats = campaigns.paket_stats_by_id([p.id for p in pakets])
    now = utcnow()
    rows = [(p, _progress(p, stats[p.id]), newsletter_refresh(p, now)) for p in pakets]
    return render_template("web/newsletters.html", rows=rows)


def _with_choices(form: NewsletterForm, account) -> NewsletterForm:
    """The form's selects filled in: the account's phones, the channels they have (the Send form's way), tags."""
    form.channels = fill_choices(form.device_id, form.sim, list_devices(account))
    form.tag_ids.choices = opts([(tc.tag.id, f"{tc.tag.title} ({tc.reachable})") for tc in tags_with_counts(account)])
    return form


def _submitted(form: NewsletterForm) -> bool:
    """Sent, valid, and on a channel its phone has (said beside the channel select otherwise)."""
    valid = form.validate_on_submit()
    return form.is_submitted() and channel_offered(form.device_id, form.sim, form.channels) and valid


def _content(form: NewsletterForm) -> dict:
    """The form's fields as the service's arguments (the send time typed in the account's zone)."""
    return {"title": form.title.data, "body": form.body.data, "device_id": form.device_id.data, "sim": form.sim.data,
            "tag_ids": form.tag_ids.data or [],
            "time_to_send": form_time(form.send_at.data),
            "schedule": request.form.get("intent") != "draft"}


def _saved_flash(paket: Paket) -> None:
    flash("Newsletter saved" + (" and scheduled." if paket.status == campaigns.SCHEDULED else "."), "success")


@bp.route("/newsletters/new", methods=["GET", "POST"])
@login_required
def new_newsletter():
    account = me()
    form = _with_choices(NewsletterForm(), account)
    if _submitted(form):
        with saving(lambda exc: show_error(form, in_form_words(exc, _FORM_WORDS), "body", _FORM_FIELDS)) as saved:
            paket = campaigns.create_paket(account, media=store_upload(account, form.image.data), **_content(form))
        if saved.ok:
            _saved_flash(paket)
            return redirect(url_for("web.newsletter", paket_id=paket.id))
    return render_template("web/newsletter_form.html", form=form), 400 if form.errors else 200


@too_large_page(new_newsletter)
def _new_too_large():
    form = _with_choices(NewsletterForm(formdata=None), me())
    show_error(form, in_form_words(upload_too_large(), _FORM_WORDS), "body", _FORM_FIELDS)
    return render_template("web/newsletter_form.html", form=form), 413


@bp.route("/newsletters/<int:paket_id>/edit", methods=["GET", "POST"])
@login_required
def edit_newsletter(paket_id: int):
    """A draft or scheduled newsletter's form, filled in; once it has started, its page says why not."""
    account = me()
    paket = owned(Paket, paket_id)
    if not campaigns.is_editable(paket):
        return _not_editable(paket)
    current_image = campaigns.media_url_now(paket)
    if request.method == "GET":
        form = _saved_form(account, paket, current_image)
    else:
        form = _with_choices(EditNewsletterForm(has_image=current_image is not None), account)
    if _submitted(form):
        with saving(lambda exc: _edit_refused(form, exc)) as saved:
            image = store_upload(account, form.image.data)
            campaigns.update_paket(account, paket.id, media=_edited_media(form, image), **_content(form))
        if saved.ok:
            _saved_flash(paket)
            return redirect(url_for("web.newsletter", paket_id=paket.id))
        if isinstance(saved.error, ConflictError):
            return redirect(url_for("web.newsletter", paket_id=paket.id))
    return (render_template("web/newsletter_form.html", form=form, paket=paket, current_image=current_image),
            400 if form.errors else 200)


@too_large_page(edit_newsletter)
def _edit_too_large(paket_id: int):
    """The form as saved (what was typed is lost with the request), the limit beside the image field."""
    account = me()
    paket = owned(Paket, paket_id)
    if not campaigns.is_editable(paket):
        return _not_editable(paket)
    current_image = campaigns.media_url_now(paket)
    form = _saved_form(account, paket, current_image)
    show_error(form, in_form_words(upload_too_large(), _FORM_WORDS), "body", _FORM_FIELDS)
    return render_template("web/newsletter_form.html", form=form, paket=paket, current_image=current_image), 413


def _not_editable(paket: Paket):
    flash(f"This newsletter is {paket.status}; {campaigns.NOT_EDITABLE}.", "error")
    return redirect(url_for("web.newsletter", paket_id=paket.id))


def _saved_form(account, paket: Paket, current_image: str | None) -> EditNewsletterForm:
    """The edit form filled in with the newsletter as saved (its send time in the account's zone)."""
    form = _with_choices(EditNewsletterForm(formdata=None, obj=paket, has_image=current_image is not None), account)
    form.tag_ids.data = [tag.id for tag in paket.tags]
    if paket.time_to_send:
        form.send_at.data = to_zone(paket.time_to_send, account.timezone).replace(tzinfo=None)
    return form


def _edit_refused(form: EditNewsletterForm, error) -> None:
    """A newsletter that started meanwhile is flashed on its page (the edit redirects there); any other
    refusal is shown beside its field."""
    if isinstance(error, ConflictError):
        flash(f"Not saved: {error.message}", "error")
    else:
        show_error(form, error, "body", _FORM_FIELDS)


def _edited_media(form: EditNewsletterForm, uploaded):
    """update_paket's ``media``: a new upload, None when the image is removed, else the one it has."""
    if uploaded is not None:
        return uploaded
    return None if form.remove_image.data else campaigns.KEEP_MEDIA


@bp.route("/newsletters/preview", methods=["GET", "POST"])
@login_required
def newsletter_preview():
    """The live preview: body rendered for a sample contact of the audience, its segments, the audience size.
    The form's script POSTs (a body of thousands of characters does not fit in a URL); GET serves short ones."""
    values = request.values
    body = (values.get("body") or "")[:current_app.config["MAX_BODY_CHARS"]]
    tag_ids = values.getlist("tag_ids")[:MAX_PREVIEW_TAGS]
    try:
        shown = campaigns.preview_newsletter(me(), body, tag_ids, with_image=values.get("image") == "1")
    except ValidationError as exc:  # no tag chosen yet (the form asks as it loads): the script keeps its placeholder
        return jsonify(message=exc.message), 400
    info = shown.preview.segments
    return jsonify(text=shown.preview.text, segments=info.segments, encoding=info.encoding, units=info.units,
                   audience=shown.audience, sample=shown.sample_phone)


@bp.route("/newsletters/<int:paket_id>")
@login_required
def newsletter(paket_id: int):
    paket = owned(Paket, paket_id)
    return render_template("web/newsletter.html", paket=paket, progress=_progress(paket, campaigns.paket_stats(paket)),
                           actions=campaigns.available_actions(paket), editable=campaigns.is_editable(paket),
                           deletable=campaigns.is_deletable(paket),
                           live=newsletter_refresh(paket, utcnow()),
                           as_sent=body_as_sent(paket.body, campaigns.media_url_now(paket)))


# Pause, resume and cancel update the newsletter's pending messages while its phone may be claiming them:
# a deadlock victim (MariaDB rolls it back, the newsletter's own change too) is run again.
@bp.route("/newsletters/<int:paket_id>/<action>", methods=["POST"])
@login_required
@retry_on_deadlock
def newsletter_action(paket_id: int, action: str):
    if action not in campaigns.ACTION_CALLS:
        abort(404)
    paket = owned(Paket, paket_id)
    with saving(lambda exc: flash(f"Could not {action} the newsletter: {exc.message}", "error")) as saved:
        campaigns.ACTION_CALLS[action](me(), paket.id)
    if saved.ok:
        flash(f"Newsletter {_PAST[action]}.", "success")
    return redirect(url_for("web.newsletter", paket_id=paket.id))



# Its DELETE detaches a finished newsletter's messages (ON DELETE SET NULL) while a phone's report may be
# updating them: a deadlock victim is run again.
@bp.route("/newsletters/<int:paket_id>/delete", methods=["POST"])
@login_required
@retry_on_deadlock
def delete_newsletter(paket_id: int):
    """Deleted (its sent messages stay in the history: campaigns.delete_paket); a running or paused one is
    refused on its page."""
    paket = owned(Paket, paket_id)
    title = paket.title
    with saving(lambda exc: flash(f"Could not delete the newsletter: {exc.message}", "error")) as saved:
        campaigns.delete_paket(me(), paket_id)
    if saved.ok:
        flash(f"Newsletter “{title}” deleted.", "success")
    elif isinstance(saved.error, ConflictError):
        return redirect(url_for("web.newsletter", paket_id=paket_id))
    return redirect(url_for("web.newsletters"))


@bp.route("/newsletters/<int:paket_id>/duplicate", methods=["POST"])
@login_required
def duplicate_newsletter(paket_id: int):
    """A copy as a new draft (campaigns.duplicate_paket), opened in its edit page."""
    owned(Paket, paket_id)
    with saving(lambda exc: flash(f"Could not copy the newsletter: {exc.message}", "error")) as saved:
        copy = campaigns.duplicate_paket(me(), paket_id)
        copy_id = copy.id
    if not saved.ok:
        return redirect(url_for("web.newsletters"))
    flash("Copied as a new draft: check it, then save it or schedule it.", "success")
    return redirect(url_for("web.edit_newsletter", paket_id=copy_id))
