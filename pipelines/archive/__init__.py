"""Reading the archive: file kinds by name or content, streaming JSON records, validation and
the row shape of each record. Knows nothing of dlt or the warehouse."""
