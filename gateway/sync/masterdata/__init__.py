"""Master data from the ERP to the tills: articles, prices, barcodes, customers, stock."""
