"""The original system's Python client, as its README wrote it: plain `requests`, no mlts import.
Kept here verbatim in spirit so the API's compatibility is tested by the code its users run."""

from datetime import datetime, timedelta

import requests


class TimeSeriesAPIClient:
    def __init__(self, base_url: str = "http://localhost:8000"):
        self.base_url = base_url

    def health_check(self) -> dict:
        response = requests.get(f"{self.base_url}/health", timeout=30)
        response.raise_for_status()
        return response.json()

    def train_model(self, collection_name: str, window_size: int = 10, epochs: int = 50) -> dict:
        payload = {"collection_name": collection_name, "window_size": window_size, "epochs": epochs}
        response = requests.post(f"{self.base_url}/train", json=payload, timeout=600)
        response.raise_for_status()
        return response.json()

    def predict(self, data: list[dict], window_size: int = 10) -> float:
        payload = {"data": data, "window_size": window_size}
        response = requests.post(f"{self.base_url}/predict", json=payload, timeout=30)
        response.raise_for_status()
        return response.json()["prediction"]

    def model_info(self) -> dict:
        return requests.get(f"{self.base_url}/model/info", timeout=30).json()

    def test_database(self) -> dict:
        return requests.get(f"{self.base_url}/database/test", timeout=30).json()


def example_data(n: int = 15) -> list[dict]:
    start = datetime(2024, 3, 1)
    return [{"timestamp": (start + timedelta(hours=i)).isoformat(), "value": 100.0 + (i % 6) * 1.5} for i in range(n)]
