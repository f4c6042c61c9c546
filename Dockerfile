# One image for every Rendezvous process; the command chooses the role (see docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DJANGO_SETTINGS_MODULE=controlplane.settings.production
WORKDIR /app
# bubblewrap: the sandbox every validation runs in (RDV_VALIDATION_SANDBOX=bwrap, DESIGN.md §5).
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY contracts contracts
COPY streaming streaming
COPY controlplane controlplane
COPY model_runner model_runner
COPY rendezvous_worker rendezvous_worker
COPY frontend frontend
COPY manage.py .
RUN useradd --create-home rendezvous && mkdir -p /data/media /data/artifacts && chown -R rendezvous /data
USER rendezvous
CMD ["python", "-m", "uvicorn", "controlplane.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
