"""The /ui/ blueprint: its guards (session, CSRF, headers), login, logout and the quote page.

Every view answers HTML rendered on the server. Every POST is checked for the
session's CSRF token before its view runs (400 otherwise), and every page but
the login page needs a logged-in session (else a redirect to the login page).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, render_template, request

from ratecalc.ui.session import COOKIE, COOKIE_PATH, SESSION_SECONDS, Session, csrf_ok

bp = Blueprint("ui", __name__, url_prefix="/ui", template_folder="templates",
               static_folder="static", static_url_path="/static")
PUBLIC = {"ui.login", "ui.static"}


def ui():
    """The UI's own objects (sessions, login limiter, budget samples), kept by init_app."""
    return current_app.extensions["ratecalc"].extras["ui"]


def services():
    return current_app.extensions["ratecalc"]


def shop():
    return services().extras.get("shop")


def page(template: str, status: int = 200, **context) -> Response:
    session = g.get("ui_session")
    body = render_template(template, csrf=session.csrf if session else "",
                           logged_in=bool(session and session.logged_in),
                           currency=services().settings.currency, **context)
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def safe_next(target: str | None) -> str:
    """Only a path of ours: never another host (``//evil``), never a scheme."""
    if target and target.startswith("/ui/") and not target.startswith("//") \
            and "\\" not in target and len(target) < 300:
        return target
    return "/ui/quote"


def local_redirect(path: str) -> Response:
    # A relative Location: never built from the Host header.
    return Response(status=303, headers={"Location": path})


@bp.before_request
def _guard():
    state = ui()
    g.ui_session = state.sessions.load(request.cookies.get(COOKIE))
    if request.endpoint == "ui.static":
        return None
    if request.method == "POST" and request.endpoint == "ui.login":
        wait = state.limiter.allow(request.remote_addr or "unknown")
        if wait:
            response = page("message.html", 429, title="Too many attempts",
                            message="Too many login attempts from this address. "
                                    f"Wait {int(wait)} seconds and try again.")
            response.headers["Retry-After"] = str(int(wait))
            return response
    if request.method == "POST" and not csrf_ok(g.ui_session, request.form.get("csrf_token")):
        return page("message.html", 400, title="Form refused",
                    message="This form is missing its security token or it has expired. "
                            "Reload the page and send it again.")
    if request.endpoint not in PUBLIC and not (g.ui_session and g.ui_session.logged_in):
        return local_redirect("/ui/login?next=" + _quoted(request.full_path.rstrip("?")))
    if g.ui_session is None:
        g.ui_session = state.sessions.fresh()  # a pre-login session carries the CSRF token
        g.ui_new_cookie = g.ui_session
    return None


def _quoted(path: str) -> str:
    from urllib.parse import quote

    return quote(path if request.method == "GET" else "/ui/quote", safe="/")


def set_session_cookie(response: Response, session: Session | None) -> None:
    settings = services().settings
    if session is None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="Lax")
        return
    response.set_cookie(COOKIE, ui().sessions.dump(session), max_age=SESSION_SECONDS,
                        path=COOKIE_PATH, httponly=True, samesite="Lax",
                        secure=request.is_secure or settings.ui_secure_cookies == "on")


@bp.after_request
def _cookie(response: Response) -> Response:
    if "ui_new_cookie" in g:
        set_session_cookie(response, g.ui_new_cookie)
    return response


def security_headers(response: Response) -> Response:
    """On every /ui/ response (registered app-wide, so 404s under /ui/ get them too)."""
    if request.path == "/ui" or request.path.startswith("/ui/"):
        ancestors = services().settings.ui_frame_ancestors
        response.headers["Content-Security-Policy"] = \
            f"default-src 'self'; frame-ancestors {ancestors}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "same-origin"
    return response


# -- login / logout -----------------------------------------------------------------
@bp.get("/")
def home():
    return local_redirect("/ui/quote" if g.ui_session.logged_in else "/ui/login")


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_path = safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.ui_session.logged_in:
            return local_redirect(next_path)
        notice = "You are logged out." if request.args.get("bye") else None
        return page("login.html", next=next_path, notice=notice)
    session = ui().sessions.login(request.form.get("token", "").strip())
    if session is None:
        return page("login.html", 401, next=next_path,
                    error="That staff token is not valid. Tokens are set by "
                          "RATECALC_UI_TOKENS (or RATECALC_API_TOKENS).")
    g.ui_new_cookie = session  # a new id and CSRF token: nothing carried over from before
    return local_redirect(next_path)


@bp.post("/logout")
def logout():
    ui().sessions.end(g.ui_session)
    g.ui_new_cookie = None
    return local_redirect("/ui/login?bye=1")


# -- the quote page -------------------------------------------------------------------
@bp.get("/quote")
def quote_page():
    from ratecalc.ui.quoteform import QuoteForm

    return page("quote.html", form=QuoteForm.defaults(), **_form_choices())


@bp.post("/quote")
def quote_post():
    from ratecalc.ui.quoting import run_form_quote

    form, result = run_form_quote(request.form)
    status = 400 if result.get("field_error") else 200
    return page("quote.html", status, form=form, result=result, **_form_choices())


@bp.post("/quote/apply")
def quote_apply():
    from ratecalc.ui.quoteform import QuoteForm
    from ratecalc.ui.quoting import apply_freight

    outcome = apply_freight(request.form.get("order_id"), request.form.get("step"),
                            request.form.get("expected_fee"))
    return page("quote.html", 200 if not outcome.get("error") else 422,
                form=QuoteForm.defaults(), apply=outcome, **_form_choices())


def _form_choices() -> dict:
    from ratecalc.ui.quoteform import DIMENSION_CHOICES, WEIGHT_CHOICES

    return {"weight_choices": WEIGHT_CHOICES, "dimension_choices": DIMENSION_CHOICES,
            "shop_enabled": shop() is not None}
