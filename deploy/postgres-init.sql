-- The postgres service's first start creates the MLflow database (POSTGRES_DB); this adds Prefect's.
CREATE DATABASE prefect;
