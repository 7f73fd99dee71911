"""Metering what answers cost: token counts (``tokens``), prices as data (``prices``, ``model_prices.json``);
the ledger and budgets join here. Below the answer loop, above the model and the store: the answer loop
meters, the store keeps."""
