"""Population registry (公安 户籍人口库) via the data-sharing exchange: signed, purposed reads."""

from connectors.population.client import PopulationConnector

__all__ = ["PopulationConnector"]
