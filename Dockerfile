# The production image for web, worker and beat (docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY tenants ./tenants
COPY telephony ./telephony
COPY emulators ./emulators
COPY tools ./tools
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install --no-cache-dir . && \
    DEBUG=true python manage.py collectstatic --noinput && \
    useradd --system --home /app switchboard
USER switchboard
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
