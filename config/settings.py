"""Settings for every environment, read from the environment (django-environ).

DEBUG=false (the default) means production: secure defaults are on and SECRET_KEY,
FIELD_ENCRYPTION_KEYS and LIVEKIT_API_SECRET have no defaults, so a production process
refuses to start without them. DEBUG=true gives the embedded development defaults that
`make run` relies on (SQLite, the SQLAlchemy broker on SQLite, the local emulator).
Real environment variables win over `.env`, which wins over `.env.local` (written by
`make run`); see config/environment.py.
"""

from __future__ import annotations

from pathlib import Path

from config.consistency import check_timeouts, check_webhooks
from config.environment import boolean as _bool
from config.environment import env, read_env_files, required

BASE_DIR = Path(__file__).resolve().parent.parent
read_env_files(BASE_DIR)

# Where the embedded mode keeps its SQLite files and the emulator its state.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))


def _required(name: str, dev_default: str) -> str:
    return required(name, dev_default, debug=DEBUG)


DEBUG = _bool("DEBUG", False)

# Development-only defaults. They are public, so they are refused when DEBUG is false.
_DEV_SECRET_KEY = "dev-insecure-switchboard-secret-key-change-me-0123456789"  # noqa: S105
_DEV_FIELD_KEY = "ArvQez2lLCclS9cX-cmT266T0HvrUzARyUJe-Rz34Fo="
# The emulator's documented default secret (docs/emulator.md): >= 32 bytes for PyJWT.
_DEV_LIVEKIT_SECRET = "switchboard-emulator-dev-secret-0123456789"  # noqa: S105

SECRET_KEY = _required("SECRET_KEY", _DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_ratelimit",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "auditlog",
    "tenants",
    "telephony",
    "webhooks",
    "audit",
    "twofactor",
    "frontdesk",
]

MIDDLEWARE = [
    "config.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The pickup 304 and LiveKit's webhooks, before the session/user middleware (0101, 0143).
    "telephony.api.agent_not_modified.AgentConfigNotModifiedMiddleware",
    "telephony.webhooks.LiveKitWebhookMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "audit.context.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "twofactor.middleware.TwoFactorMiddleware",
    "tenants.middleware.ClinicTimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_ratelimit.middleware.RatelimitMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.flags",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'switchboard.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["ENGINE"] = "config.postgresql"  # health check: decision 0140
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
else:
    # SQLite in the embedded mode: web, worker and beat share one file.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenants.User"
LOGIN_URL = "tenants:login"
LOGIN_REDIRECT_URL = "tenants:home"
LOGOUT_REDIRECT_URL = "tenants:landing"

AUTHENTICATION_BACKENDS = ["tenants.backends.LockoutModelBackend"]
# Two-factor sign-in (django-otp, docs/security.md): the name authenticator apps show.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Switchboard")

# --- Abuse limits (django-ratelimit on the shared cache) ---------------------------------------
RATELIMIT_ENABLE = _bool("RATELIMIT_ENABLE", True)
RATELIMIT_VIEW = "tenants.ratelimit.too_many"
RATELIMIT_SIGNUP = env.str("RATELIMIT_SIGNUP", default="10/h")  # per client IP
RATELIMIT_LOGIN_IP = env.str("RATELIMIT_LOGIN_IP", default="30/m")
RATELIMIT_LOGIN_ACCOUNT = env.str("RATELIMIT_LOGIN_ACCOUNT", default="10/m")
# Invitation links (the token is 256 random bits, so this limits load, not guessing).
RATELIMIT_INVITATION = env.str("RATELIMIT_INVITATION", default="30/m")  # per client IP
RATELIMIT_PASSWORD_RESET = env.str("RATELIMIT_PASSWORD_RESET", default="10/h")  # per client IP
RATELIMIT_PASSWORD_RESET_EMAIL = env.str("RATELIMIT_PASSWORD_RESET_EMAIL", default="3/h")
# How long a password reset link works (Django's default is 3 days).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=900)
# X-Forwarded-For is believed only from these proxies (addresses or CIDR blocks).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env.str("PASSWORD_HASHERS", default="") == "fast-for-tests":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
if DEBUG:  # WhiteNoise serves from the finders in development; it warns if the root is absent
    STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Cache (rate limiter, login throttling) ------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # django-ratelimit 4.1 predates Django's own Redis backend and warns that it is "not
    # officially supported"; that backend's incr() is Redis INCR, atomic, which is what the
    # warning is about. The check is silenced for it alone.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    # The embedded mode (make run): a table in the database, shared by every process
    # (`make run` creates it). Production runs Redis: django-ratelimit wants atomic increments.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "switchboard_cache",
        }
    }
    # Rate counts there are not atomic, which a one-person local run can live with; a
    # production process without Redis fails its checks instead.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"] if DEBUG else []

# --- Email --------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = _bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Switchboard <no-reply@localhost>")
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# How long an emailed team invitation stays valid (default 7 days).
INVITATION_MAX_AGE_SECONDS = env.int("INVITATION_MAX_AGE_SECONDS", default=7 * 24 * 3600)
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=90)

# --- Security (production defaults; each can be turned off explicitly) ---------------------
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = _bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if _bool("TRUST_X_FORWARDED_PROTO", False) else None
)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # the dashboard's fetch() reads it for JSON POSTs
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
from config.csp import CONTENT_SECURITY_POLICY  # noqa: E402, F401 (django-csp's policy)

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

# --- Encryption at rest ---------------------------------------------------------------------
# Comma-separated Fernet keys; the first encrypts, all decrypt (MultiFernet rotation).
FIELD_ENCRYPTION_KEYS = [
    k.strip() for k in _required("FIELD_ENCRYPTION_KEYS", _DEV_FIELD_KEY).split(",") if k.strip()
]

# --- LiveKit --------------------------------------------------------------------------------
LIVEKIT_URL = env.str("LIVEKIT_URL", default="http://127.0.0.1:7880")
LIVEKIT_API_KEY = env.str("LIVEKIT_API_KEY", default="devkey")
LIVEKIT_API_SECRET = _required("LIVEKIT_API_SECRET", _DEV_LIVEKIT_SECRET)
LIVEKIT_SIP_URI = env.str("LIVEKIT_SIP_URI", default="sip:127.0.0.1:5060")
LIVEKIT_SIP_FALLBACK_URI = env.str("LIVEKIT_SIP_FALLBACK_URI", default="")  # decision 0113
LIVEKIT_AGENT_NAME = env.str("LIVEKIT_AGENT_NAME", default="switchboard-receptionist")
LIVEKIT_TIMEOUT_SECONDS = env.float("LIVEKIT_TIMEOUT_SECONDS", default=10.0)
LIVEKIT_GATEWAY = env.str("LIVEKIT_GATEWAY", default="telephony.livekit_gateway.LiveKitGateway")
# One upstream budget for all workers (LiveKit: 1,000 requests/min/project; burst: 0137).
LIVEKIT_RATE_LIMIT_PER_MINUTE = env.float("LIVEKIT_RATE_LIMIT_PER_MINUTE", default=1000.0)
LIVEKIT_RATE_LIMIT_BURST = env.float("LIVEKIT_RATE_LIMIT_BURST", default=10.0)
LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS = env.float("LIVEKIT_RATE_LIMIT_MAX_WAIT_SECONDS", default=5.0)
# LIVEKIT_URL is Switchboard's own emulator (test calls simulate calls; `make run` sets it).
LIVEKIT_IS_EMULATOR = _bool("LIVEKIT_IS_EMULATOR", False)
# The ownership marker written into every object Switchboard creates. Two deployments
# (staging, production) sharing one LiveKit project must use different values.
SWITCHBOARD_DEPLOYMENT_ID = env.str("SWITCHBOARD_DEPLOYMENT_ID", default="switchboard")
REQUIRE_EMAIL_VERIFICATION = _bool("REQUIRE_EMAIL_VERIFICATION", True)

# --- Provisioning ---------------------------------------------------------------------------
PROVISIONING_MAX_ATTEMPTS = env.int("PROVISIONING_MAX_ATTEMPTS", default=12)
PROVISIONING_BACKOFF_BASE_SECONDS = env.float("PROVISIONING_BACKOFF_BASE_SECONDS", default=2.0)
PROVISIONING_BACKOFF_MAX_SECONDS = env.float("PROVISIONING_BACKOFF_MAX_SECONDS", default=300.0)
PROVISIONING_LEASE_SECONDS = env.float("PROVISIONING_LEASE_SECONDS", default=30.0)
PROVISIONING_SWEEP_SECONDS = env.float("PROVISIONING_SWEEP_SECONDS", default=30.0)
# Clinics taken live in one transaction: batches of this many per task, at most
# PROVISIONING_BATCH_IN_FLIGHT batch calls in flight per worker process (decisions/0010).
PROVISIONING_BATCH_SIZE = env.int("PROVISIONING_BATCH_SIZE", default=50)
PROVISIONING_BATCH_IN_FLIGHT = env.int("PROVISIONING_BATCH_IN_FLIGHT", default=14)
DRIFT_SCAN_SECONDS = env.float("DRIFT_SCAN_SECONDS", default=600.0)
DRIFT_SCAN_PAGE_SIZE = env.int("DRIFT_SCAN_PAGE_SIZE", default=1000)
ORPHAN_GRACE_SECONDS = env.float("ORPHAN_GRACE_SECONDS", default=3600.0)

# --- Webhooks to clinics (webhooks/, docs/webhooks.md): config/webhook_settings.py --------
from config.carrier_settings import *  # noqa: E402, F403
from config.limit_settings import *  # noqa: E402, F403
from config.webhook_settings import *  # noqa: E402, F403

# --- Audit log (docs/security.md, decisions/0044) -------------------------------------------
# django-auditlog writes into audit.AuditEntry; its own table would stay unused, so its
# migrations are off. Entries older than the retention are purged daily (default six years).
AUDITLOG_LOGENTRY_MODEL = "audit.AuditEntry"
MIGRATION_MODULES = {"auditlog": None}
AUDIT_LOG_RETENTION_DAYS = env.int("AUDIT_LOG_RETENTION_DAYS", default=6 * 366)

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL",
    default=REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}",
)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=90)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=120)
CELERY_BROKER_VISIBILITY_TIMEOUT = env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=900)
# Redis-specific transport options; the SQLAlchemy transport (embedded mode) takes none.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else {}
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 30.0
CELERY_BEAT_SCHEDULE = {
    "provisioning-sweeper": {
        "task": "telephony.sweep_provisioning",
        "schedule": PROVISIONING_SWEEP_SECONDS,
    },
    **CARRIER_BEAT_SCHEDULE,  # noqa: F405
    "drift-scan": {
        "task": "telephony.drift_scan",
        "schedule": DRIFT_SCAN_SECONDS,
    },
    "call-retention": {"task": "telephony.purge_calls", "schedule": 3600.0},
    "webhooks-sweeper": {"task": "webhooks.sweep", "schedule": WEBHOOKS_SWEEP_SECONDS},  # noqa: F405
    "webhooks-retention": {"task": "webhooks.purge", "schedule": 3600.0},
    "audit-retention": {
        "task": "audit.purge",
        "schedule": 24 * 3600.0,
    },
}

check_timeouts(globals())
check_webhooks(globals())

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous request then gets 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["config.parsers.SafeJSONParser"],
    "EXCEPTION_HANDLER": "tenants.api.exceptions.exception_handler",
}
from config.api_docs import AUTH_DESCRIPTION  # noqa: E402 (plain data, no Django imports)

SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": AUTH_DESCRIPTION,
    # Words for API users: a tag, a summary and a description per operation.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_docs.postprocess",
    ],
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets come from the app itself (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"CallStatusEnum": "telephony.models.Call.Status"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # livekit-api logs request failures; our gateway logs them without payloads.
        "livekit": {"level": "WARNING"},
    },
}
