-- cfg_prices: the YAML price table, rewritten at every connect.
-- grain: (kind, model). columns: kind (embedding | llm | platform_call), model (model name, or op for
-- platform_call), usd_per_1m_input (embedding and LLM input tokens), usd_per_1m_output (LLM output
-- tokens), usd_per_call (Platform per-call price), usd_per_1m_cached_input (LLM prompt tokens served from the
-- provider's prompt cache; NULL = billed at usd_per_1m_input; added in layout 5).
CREATE TABLE IF NOT EXISTS cfg_prices (
    kind               VARCHAR NOT NULL,
    model              VARCHAR NOT NULL,
    usd_per_1m_input   DOUBLE NOT NULL DEFAULT 0,
    usd_per_1m_output  DOUBLE NOT NULL DEFAULT 0,
    usd_per_call       DOUBLE NOT NULL DEFAULT 0,
    usd_per_1m_cached_input DOUBLE,
    PRIMARY KEY (kind, model)
);
