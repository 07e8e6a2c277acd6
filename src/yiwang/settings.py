"""Settings: every value comes from the environment, with safe defaults for the embedded mode.

Embedded default: SQLite under ``var/``. Production: ``YIWANG_ENV=production`` plus
``DATABASE_URL``, ``YIWANG_SECRET_KEY`` and ``YIWANG_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("YIWANG_VAR_DIR", PROJECT_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


YIWANG_ENV = os.environ.get("YIWANG_ENV", "development")
PRODUCTION = YIWANG_ENV == "production"
DEBUG = env_bool("YIWANG_DEBUG", False)

_DEV_SECRET = "insecure-development-key-do-not-use-in-production-0123456789"
SECRET_KEY = os.environ.get("YIWANG_SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET):
    raise RuntimeError("YIWANG_SECRET_KEY must be set in production / 生产环境必须设置 YIWANG_SECRET_KEY")

ALLOWED_HOSTS = env_list("YIWANG_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("YIWANG_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files (CSP 'self')
    "django_filters",
    "oauth2_provider",
    "yiwang.core",
    "yiwang.identity",
    "yiwang.catalog",
    "yiwang.applications",
    "yiwang.cases",
    "yiwang.exchange",
    "yiwang.seals",
    "yiwang.certificates",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "yiwang.core.middleware.SecurityHeadersMiddleware",
    "yiwang.catalog.middleware.PublicSearchAnswerCache",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "yiwang.core.middleware.SessionTouchMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "yiwang.identity.acting.ActingMiddleware",
    "yiwang.core.middleware.AuditActorMiddleware",
]

ROOT_URLCONF = "yiwang.urls"
WSGI_APPLICATION = "yiwang.wsgi.application"

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
                "yiwang.core.context_processors.platform",
            ],
        },
    }
]

_default_db = f"sqlite:///{VAR_DIR / 'yiwang.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_db), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions serialise writers up front, so read-then-write sequences
    # (audit chain, version numbers) never fail half way with a stale snapshot.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---- Registration and sign-in (docs/identity.md) ----
# One sign-in field for username, citizen ID number or mobile number; locked accounts refused.
AUTHENTICATION_BACKENDS = ["yiwang.identity.backends.IdentifierBackend"]
# Password policy shown on every new-password field (yiwang.identity.passwords.policy_text).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "yiwang.identity.passwords.LengthValidator",
     "OPTIONS": {"min_length": int(os.environ.get("YIWANG_PASSWORD_MIN_LENGTH", 10))}},
    {"NAME": "yiwang.identity.passwords.LettersAndDigitsValidator"},
    {"NAME": "yiwang.identity.passwords.CommonPasswordValidator"},
    {"NAME": "yiwang.identity.passwords.PersonalDataValidator"},
]
# Text messages: dotted path of the backend class (OutboxBackend keeps them in the database).
YIWANG_SMS_BACKEND = os.environ.get("YIWANG_SMS_BACKEND", "yiwang.identity.sms.OutboxBackend")
YIWANG_SMS_CODE_TTL = 300           # seconds a code stays valid
YIWANG_SMS_RESEND_SECONDS = 60      # per number and purpose
YIWANG_SMS_DAILY_LIMIT = 10         # codes per number per day
YIWANG_SMS_MAX_ATTEMPTS = 5         # wrong tries per code
YIWANG_SMS_RATE_IP = os.environ.get("YIWANG_SMS_RATE_IP", "20/h")
YIWANG_CODE_RATE_IP = os.environ.get("YIWANG_CODE_RATE_IP", "30/h")
YIWANG_REGISTER_RATE_IP = os.environ.get("YIWANG_REGISTER_RATE_IP", "20/h")
YIWANG_LOGIN_RATE_IP = os.environ.get("YIWANG_LOGIN_RATE_IP", "30/m")
YIWANG_LOGIN_RATE_ACCOUNT = os.environ.get("YIWANG_LOGIN_RATE_ACCOUNT", "10/5m")
YIWANG_LOGIN_MAX_FAILURES = 5       # wrong passwords in a row before the account locks
YIWANG_LOGIN_LOCK_MINUTES = 15
# ---- end of registration and sign-in ----
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/office/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("YIWANG_MEDIA_ROOT", VAR_DIR / "media"))
# Uploaded and generated files: the file system by default; S3-compatible object storage in
# production when YIWANG_S3_BUCKET is set (install with `pip install -e '.[s3]'`; docs/deployment.md).
S3_BUCKET = os.environ.get("YIWANG_S3_BUCKET", "")
DEFAULT_FILE_STORAGE_CONFIG = (
    {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": S3_BUCKET, "endpoint_url": os.environ.get("YIWANG_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("YIWANG_S3_REGION") or None,
        "access_key": os.environ.get("YIWANG_S3_ACCESS_KEY") or None,
        "secret_key": os.environ.get("YIWANG_S3_SECRET_KEY") or None,
        "default_acl": None, "querystring_auth": True, "file_overwrite": False,
        "location": os.environ.get("YIWANG_S3_PREFIX", "yiwang"),
    }} if S3_BUCKET else {"BACKEND": "django.core.files.storage.FileSystemStorage"})
STORAGES = {
    "default": DEFAULT_FILE_STORAGE_CONFIG,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage" if PRODUCTION
                    else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not PRODUCTION
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
YIWANG_MAX_UPLOAD_BYTES = int(os.environ.get("YIWANG_MAX_UPLOAD_BYTES", 10 * 1024 * 1024))
# Cases: yellow warning at this many working days left; the address QR codes on documents point to.
YIWANG_CASE_YELLOW_DAYS = int(os.environ.get("YIWANG_CASE_YELLOW_DAYS", "2"))
YIWANG_PUBLIC_URL = os.environ.get("YIWANG_PUBLIC_URL", "http://127.0.0.1:8000")
# 免提交: dotted paths of connectors that supply certificate/shared-data materials (yiwang.cases.connectors).
YIWANG_MATERIAL_CONNECTORS = env_list("YIWANG_MATERIAL_CONNECTORS",
                                      "yiwang.certificates.connectors.CertificateConnector")

# "shared": what several processes must see at once (a background job's progress shown by a web
# process). Without Redis it lives in files under var/, shared by the processes of one machine.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
          "shared": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                     "LOCATION": str(VAR_DIR / "cache" / "shared")}}
if os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["REDIS_URL"]},
              "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                         "LOCATION": os.environ["REDIS_URL"], "KEY_PREFIX": "shared"}}

# ---- Background jobs (docs/jobs.md) ----
# "db": database queue run by `yiwang worker` (started by `yiwang serve`); "celery": Celery on
# Redis (`celery -A yiwang.celery worker` and one `celery -A yiwang.celery beat`); "immediate":
# run synchronously when the transaction commits (tests).
YIWANG_JOBS_BACKEND = os.environ.get("YIWANG_JOBS_BACKEND", "db")
YIWANG_JOBS_POLL_SECONDS = float(os.environ.get("YIWANG_JOBS_POLL_SECONDS", "1"))
YIWANG_JOBS_LEASE_SECONDS = float(os.environ.get("YIWANG_JOBS_LEASE_SECONDS", "300"))
YIWANG_JOBS_KEEP_DAYS = int(os.environ.get("YIWANG_JOBS_KEEP_DAYS", "7"))  # finished jobs pruned after
YIWANG_JOBS_KEEP_FAILED_DAYS = int(os.environ.get("YIWANG_JOBS_KEEP_FAILED_DAYS", "30"))
YIWANG_JOBS_BACKOFF_SCALE = float(os.environ.get("YIWANG_JOBS_BACKOFF_SCALE", "1"))  # tests shrink it
YIWANG_JOBS_MODULES = env_list("YIWANG_JOBS_MODULES", "")  # beside every app's tasks.py
YIWANG_CELERY_BROKER_URL = os.environ.get("YIWANG_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
YIWANG_CELERY_QUEUE = os.environ.get("YIWANG_CELERY_QUEUE", "yiwang")
# Seconds after which Redis hands an unacknowledged job (its worker died) to another worker;
# must exceed the longest job and the longest retry delay.
YIWANG_CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("YIWANG_CELERY_VISIBILITY_TIMEOUT", "7200"))
YIWANG_CELERY_RESTORE_SECONDS = int(os.environ.get("YIWANG_CELERY_RESTORE_SECONDS", "60"))  # sweep for them
YIWANG_CELERY_BEAT_SECONDS = float(os.environ.get("YIWANG_CELERY_BEAT_SECONDS", "30"))
# ---- end of background jobs ----
# Webhooks may target http://localhost or 127.0.0.1 (development); otherwise https only.
YIWANG_WEBHOOKS_ALLOW_HTTP_LOOPBACK = env_bool("YIWANG_WEBHOOKS_ALLOW_HTTP_LOOPBACK", not PRODUCTION and DEBUG)
# Internal networks webhook targets may be in (department systems on the government network), as CIDRs.
YIWANG_WEBHOOKS_ALLOWED_NETWORKS = env_list("YIWANG_WEBHOOKS_ALLOWED_NETWORKS", "")

# Security headers and cookies
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_ENGINE = "yiwang.core.sessions"  # the database store, read with one plain query
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = int(os.environ.get("YIWANG_SESSION_SECONDS", 30 * 60))
# Inactivity timeout, not absolute: the session is saved again (and its expiry moved) by a request
# coming more than YIWANG_SESSION_TOUCH_SECONDS after the last save (core.middleware.SessionTouchMiddleware).
SESSION_SAVE_EVERY_REQUEST = False
YIWANG_SESSION_TOUCH_SECONDS = int(os.environ.get("YIWANG_SESSION_TOUCH_SECONDS", 60))
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env_bool("YIWANG_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = 31536000 if PRODUCTION else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("YIWANG_BEHIND_PROXY", False) else None

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Bearer tokens of the OpenID provider first (its 401 challenge answers missing credentials),
    # then the session of the pages.
    "DEFAULT_AUTHENTICATION_CLASSES": ["yiwang.identity.api_auth.BearerTokenAuthentication",
                                       "rest_framework.authentication.SessionAuthentication"],
    # Staff using the session must have passed the second factor; bearer tokens are unaffected.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly",
                                   "yiwang.identity.totp.SecondFactorForStaffSession"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer",
                                 "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_PAGINATION_CLASS": "yiwang.core.api_base.Pagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "yiwang.core.api_base.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "一网 Yiwang API",
    "DESCRIPTION": "政务服务事项库等开放接口 / Service catalog and platform APIs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "yiwang.core.openapi.database_neutral_bounds"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",  # tag operations by resource (items, regions…), not "v1"
    "ENUM_NAME_OVERRIDES": {"MaterialKindEnum": "yiwang.catalog.codes.MaterialKind",
                            "OrganizationKindEnum": "yiwang.core.models.Organization.Kind",
                            "CaseStatusEnum": "yiwang.cases.models.Case.Status",
                            "StatusEnum": "yiwang.catalog.models.ItemVersion.Status",
                            "StateEnum": "yiwang.catalog.models.ServiceItem.State"},
}

# Personal data at rest (docs/keys.md): "keyid:base64key,…", the first encrypts, all decrypt.
YIWANG_DATA_KEYS = os.environ.get("YIWANG_DATA_KEYS", "")
YIWANG_DATA_CIPHER = os.environ.get("YIWANG_DATA_CIPHER", "aes-gcm")  # or "sm4"
YIWANG_INDEX_KEY = os.environ.get("YIWANG_INDEX_KEY", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The filter sits on the handler so it also sees records propagated from child loggers.
    "filters": {"personal_data": {"()": "yiwang.core.logging_filters.PersonalDataFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["personal_data"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("YIWANG_LOG_LEVEL", "WARNING")},
}

# Platform identity shown on pages
YIWANG_PLATFORM_NAME = os.environ.get("YIWANG_PLATFORM_NAME", "临江市一网通办")
# E-mail notifications: an SMTP server in production (YIWANG_EMAIL_URL style settings below); in
# development they are written to var/mail/ as files.
EMAIL_BACKEND = os.environ.get("YIWANG_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.environ.get("YIWANG_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("YIWANG_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("YIWANG_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("YIWANG_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("YIWANG_EMAIL_TLS", "") in ("1", "true", "yes")
DEFAULT_FROM_EMAIL = os.environ.get("YIWANG_EMAIL_FROM", "noreply@yiwang.invalid")
YIWANG_CITY_REGION = os.environ.get("YIWANG_CITY_REGION", "390100000000")
# Extra 2-digit province prefixes accepted in division codes beside the real ones
# (the demo province uses the unassigned prefix 39).
YIWANG_EXTRA_PROVINCES = env_list("YIWANG_EXTRA_PROVINCES", "39")
YIWANG_PDF_FONT = os.environ.get("YIWANG_PDF_FONT", "")
# Search pages, counts and facets are cached per catalog revision (0 turns the cache off).
YIWANG_SEARCH_CACHE_SECONDS = int(os.environ.get("YIWANG_SEARCH_CACHE_SECONDS", "300"))

# Single sign-on: Yiwang is an OpenID Connect provider (docs/sso.md).
from yiwang.identity.oidc_keys import inactive_keys, signing_key  # noqa: E402

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": signing_key(production=PRODUCTION, var_dir=VAR_DIR),
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": inactive_keys(),
    "OIDC_ISS_ENDPOINT": os.environ.get("YIWANG_OIDC_ISSUER", ""),  # default: <this server>/o
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": True,
    # Registration already limits http to loopback addresses (identity.services_oidc).
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": False,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_SUBJECT_TYPES_SUPPORTED": ["pairwise"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "client_credentials", "refresh_token"],
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # S256 only
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 14 * 24 * 3600,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REQUEST_APPROVAL_PROMPT": "force",
    "SCOPES": {
        "openid": "确认您的身份（为本应用生成的专用标识）",
        "profile": "您的姓名、用户名、实名等级和脱敏的身份证号码",
        "phone": "您的手机号码（脱敏，如 138****5678）",
        "enterprise": "您当前代表的企业（名称和统一社会信用代码）",
        "catalog.read": "读取您管理范围内的事项目录（含草稿）",
        "catalog.write": "以您的身份修改事项目录",
        "introspection": "核验本平台签发的访问令牌（资源服务器）",
        "cases:read": "部门系统读取本机构的办件（docs/webhooks.md）",
        "cases:write": "部门系统以本机构服务账号报送环节办理结果",
        "certificates:read": "读取持证人授权给本应用的电子证照（docs/certificate-sharing.md）",
    },
    "DEFAULT_SCOPES": ["openid"],
    "OAUTH2_VALIDATOR_CLASS": "yiwang.identity.oidc.YiwangValidator",
}
# Named so that migrations referring to the toolkit's models resolve (they are not swapped).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
