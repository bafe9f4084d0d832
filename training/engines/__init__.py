"""Execution engines for the per-customer data work: embedded pandas (default) or Apache Spark.

Both engines run the same pure functions of :mod:`kizuna.features`; Spark applies
them to customer-hash shards. pyspark is imported only inside the ``spark_*``
modules, lazily, so the pandas engine needs no Java.
"""
