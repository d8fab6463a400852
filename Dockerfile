FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engage ./engage
RUN pip install --no-cache-dir .
ENV ENGAGE_DATABASE_URL=postgresql+psycopg://postgres:engage@postgres:5432/engage \
    ENGAGE_BROKER_URL=amqp://guest:guest@rabbitmq:5672/%2F
ENTRYPOINT ["engage"]
