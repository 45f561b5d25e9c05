# Image for Fly.io (see docs/deploy.md). The project is installed in place (-e) because
# templates/, static/, notices/ and tenants/ are read from the repository folder.
FROM python:3.11-slim-bookworm

# weasyprint (paper 回覧板 PDF) needs pango; the Japanese font ships inside the package.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir -e .
COPY templates ./templates
COPY static ./static
COPY notices ./notices
COPY tenants ./tenants

ENV CHONAIKAI_ENV=production PYTHONUNBUFFERED=1
EXPOSE 8080
CMD ["chonaikai", "serve", "--host", "0.0.0.0", "--port", "8080"]
