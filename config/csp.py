"""The Content-Security-Policy of every response (django-csp reads CONTENT_SECURITY_POLICY).

Scripts, styles, fonts, frames and form targets from this origin only; no inline script or
style anywhere (docs/security.md, decisions/0043). data: images are for the icons inside
the admin's and Swagger UI's own stylesheets.
"""

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
