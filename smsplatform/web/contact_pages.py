"""Contacts and tags: search, add/edit, bulk tag/untag, CSV and Excel export and import (with its per-row report)."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from smsplatform.contacts import optout, services
from smsplatform.contacts.importer import MODE_BLOCKLIST, MODE_UPSERT, ImportAborted, import_contacts, too_large
from smsplatform.contacts.listfile import exported_rows
from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.models.types import MAX_ROW_ID
from smsplatform.web import queries
from smsplatform.web.blueprint import back_to_list, bp, counted, me, saving, spreadsheet_download, too_large_page
from smsplatform.web.forms import BulkTagForm, ContactForm, ImportForm, TagForm, opts, show_error

_OPTED = {"yes": True, "no": False}
# The contact list's query arguments (its search and page), which its bulk tag/untag returns to.
_LIST_ARGS = frozenset({"q", "tag", "opted_out", "page"})
_CONTACT_FIELDS = {"tags": "tag_ids"}


def _tag_choices(account) -> list[tuple[int, str]]:
    return [(tc.tag.id, tc.tag.title) for tc in services.tags_with_counts(account)]


def _contact_filter() -> dict:
    """The list's filter from the query string (the page and its export share it)."""
    return {"query": (request.args.get("q") or "").strip()[:100], "tag_id": request.args.get("tag") or None,
            "opted_out": _OPTED.get(request.args.get("opted_out", ""))}


@bp.route("/contacts")
@login_required
def contacts():
    account = me()
    filters = _contact_filter()
    tag_arg = request.args.get("tag", "")
    try:
        page = _contact_page(account, filters, request.args.get("page", 1, type=int))
    except ValidationError:
        abort(400)
    tags = services.tags_with_counts(account)
    bulk = BulkTagForm()
    bulk.tag_id.choices = opts([(tc.tag.id, tc.tag.title) for tc in tags])
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("web/contacts.html", page=page, tags=tags, bulk=bulk, tag_form=TagForm(),
                           search=filters["query"], tag_arg=tag_arg, opted=request.args.get("opted_out", ""), args=args)


def _contact_page(account, filters: dict, number: int) -> queries.Page:
    """One page of the contacts the filter finds; a number past the last page shows the last one (as the
    message list does), read again only then. The first offset is kept within a BIGINT (SQLite cannot bind
    a larger number)."""
    def read(number: int) -> queries.Page:
        found = services.search_contacts(account, **filters, limit=queries.PAGE_SIZE,
                                         offset=(number - 1) * queries.PAGE_SIZE)
        return queries.Page(found.contacts, number, found.total)

    page = read(min(max(1, number), MAX_ROW_ID // queries.PAGE_SIZE))
    return read(page.pages) if page.number > page.pages else page


@bp.route("/contacts/export.csv")
@login_required
def export_contacts():
    """The contacts the list's filter finds, all of them, as CSV (``?delimiter=comma`` or ``semicolon``), in
    the columns the import reads back (``phone``, ``name``, ``tags``, ``opted_out``), so a list moves
    between accounts with its opt-outs."""
    return spreadsheet_download(_contact_rows(), "contacts", request.args.get("delimiter") or "comma")


@bp.route("/contacts/export.xlsx")
@login_required
def export_contacts_xlsx():
    return spreadsheet_download(_contact_rows(), "contacts", "xlsx")


def _contact_rows():
    """The rows of the contacts' export, the header first; 400 for a bad filter (before any row)."""
    account = me()
    try:
        found = services.contacts_for_export(account, **_contact_filter())
    except ValidationError:
        abort(400)
    return exported_rows(found, account.timezone)


@bp.route("/contacts/new", methods=["GET", "POST"])
@login_required
def new_contact():
    account = me()
    form = ContactForm()
    form.tag_ids.choices = opts(_tag_choices(account))
    if form.validate_on_submit():
        with saving(lambda exc: show_error(form, exc, "phone", _CONTACT_FIELDS)) as saved:
            services.create_contact(account, form.phone.data, form.name.data, form.tag_ids.data or [])
        if saved.ok:
            flash("Contact added.", "success")
            return redirect(url_for("web.contacts"))
    return render_template("web/contact_form.html", form=form, contact=None), 400 if form.errors else 200


@bp.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
@login_required
def contact(contact_id: int):
    account = me()
    row = services.get_contact(account, contact_id)
    form = ContactForm(obj=row if request.method == "GET" else None)
    form.tag_ids.choices = opts(_tag_choices(account))
    if request.method == "GET":
        form.phone.data = row.phone
        form.tag_ids.data = [t.id for t in row.tags]
    if form.validate_on_submit():
        with saving(lambda exc: show_error(form, exc, "phone", _CONTACT_FIELDS)) as saved:
            services.update_contact(account, row.id, phone=form.phone.data, name=form.name.data or "",
                                    tag_ids=form.tag_ids.data or [])
        if saved.ok:
            flash("Contact saved.", "success")
            return redirect(url_for("web.contacts"))
    return render_template("web/contact_form.html", form=form, contact=row), 400 if form.errors else 200


@bp.route("/contacts/<int:contact_id>/delete", methods=["POST"])
@login_required
def delete_contact(contact_id: int):
    deleted = services.delete_contact(me(), contact_id)
    db.session.commit()
    flash("Contact deleted." if deleted else "Name and tags deleted; the number stays on the opt-out list, so it "
          "gets no newsletters if it is added again.", "success")
    return redirect(url_for("web.contacts"))


@bp.route("/contacts/<int:contact_id>/opt-out", methods=["POST"])
@login_required
def opt_out_contact(contact_id: int):
    account = me()
    row = services.get_contact(account, contact_id)
    withdrawn = optout.opt_out_contact(account, row, optout.BY_HAND_REASON)
    db.session.commit()
    also = f"; {counted(withdrawn, 'waiting newsletter message')} withdrawn" if withdrawn else ""
    flash(f"Opted out: newsletters skip {row.phone} from now on{also}.", "success")
    return redirect(url_for("web.contact", contact_id=row.id))


@bp.route("/contacts/<int:contact_id>/opt-in", methods=["POST"])
@login_required
def opt_in_contact(contact_id: int):
    account = me()
    row = services.get_contact(account, contact_id)
    optout.opt_in_contact(row)
    db.session.commit()
    flash(f"Opted back in: {row.phone} receives newsletters of its tags again.", "success")
    return redirect(url_for("web.contact", contact_id=row.id))


@bp.route("/contacts/bulk", methods=["POST"])
@login_required
def bulk_tag():
    """The contact list's "Apply" to the selected contacts; back to the list as it was searched and paged (the
    form's action carries them)."""
    account = me()
    back = back_to_list("web.contacts", _LIST_ARGS)
    form = BulkTagForm()
    form.tag_id.choices = opts(_tag_choices(account))
    if not form.validate_on_submit() or not form.contact_ids.data:
        flash("Select at least one contact and a tag.", "error")
        return redirect(back)
    if form.action.data == "tag":
        changed = services.tag_contacts(account, form.contact_ids.data, form.tag_id.data)
    else:
        changed = services.untag_contacts(account, form.contact_ids.data, form.tag_id.data)
    db.session.commit()
    flash(f"{counted(changed, 'contact')} {'tagged' if form.action.data == 'tag' else 'untagged'}.", "success")
    return redirect(back)


@bp.route("/tags", methods=["POST"])
@login_required
def create_tag():
    form = TagForm()
    if form.validate_on_submit():
        with saving(lambda exc: flash(f"Tag not created: {exc.message}", "error")) as saved:
            tag = services.create_tag(me(), form.title.data)
        if saved.ok:
            flash(f"Tag “{tag.title}” created.", "success")
    else:
        flash("Give the tag a title (at most 100 characters).", "error")
    return redirect(url_for("web.contacts"))


@bp.route("/tags/<int:tag_id>/rename", methods=["POST"])
@login_required
def rename_tag(tag_id: int):
    account = me()
    services.get_tag(account, tag_id)
    form = TagForm()
    if form.validate_on_submit():
        with saving(lambda exc: flash(f"Tag not renamed: {exc.message}", "error")) as saved:
            tag = services.rename_tag(account, tag_id, form.title.data)
        if saved.ok:
            flash(f"Tag renamed to “{tag.title}”.", "success")
    else:
        flash("Give the tag a title (at most 100 characters).", "error")
    return redirect(url_for("web.contacts"))


@bp.route("/tags/<int:tag_id>/delete", methods=["POST"])
@login_required
def delete_tag(tag_id: int):
    account = me()
    services.get_tag(account, tag_id)  # another account's tag: the 404 page
    with saving(lambda exc: flash(f"Tag not deleted: {exc.message}", "error")) as saved:
        services.delete_tag(account, tag_id)
    if saved.ok:
        flash("Tag deleted; its contacts stay.", "success")
    return redirect(url_for("web.contacts"))


def _import_form(account, **kwargs) -> ImportForm:
    form = ImportForm(**kwargs)
    form.tag_id.choices = opts([(0, "—")] + _tag_choices(account))
    return form


@bp.route("/contacts/import", methods=["GET", "POST"])
@login_required
def import_csv():
    account = me()
    form = _import_form(account)
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        # An aborted import is told above the form (its earlier chunks are saved); other refusals beside the file.
        with saving(lambda exc: show_error(form, exc, None if isinstance(exc, ImportAborted) else "file")) as saved:
            if upload is None or not getattr(upload, "filename", ""):
                raise ValidationError("choose a CSV or Excel file", field="file")
            report = import_contacts(
                account, upload.stream, commit=db.session.commit,
                mode=MODE_BLOCKLIST if form.mode.data == "blocklist" else MODE_UPSERT,
                tag_ids=[form.tag_id.data] if form.tag_id.data else [],
                max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
            )
        if isinstance(saved.error, ImportAborted):
            report = saved.error.report
    return render_template("web/import.html", form=form, report=report), 400 if form.errors else 200


@too_large_page(import_csv)
def _import_too_large():
    form = _import_form(me(), formdata=None)
    show_error(form, too_large(current_app.config["MAX_CONTENT_LENGTH"]), "file")
    return render_template("web/import.html", form=form, report=None), 413
