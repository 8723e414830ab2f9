# The service and the ingest job share one image; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 \
    GQA_DATA_DIR=/data GQA_HOST=0.0.0.0
RUN apt-get update && apt-get install -y --no-install-recommends gcc libmagic1 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY ingest ingest
COPY reader reader
COPY engine engine
COPY service service
COPY eval eval
RUN pip install --no-cache-dir .
COPY samples samples
EXPOSE 8000
CMD ["python", "-m", "service"]
