WITH `@p:in` AS (
  SELECT
    *
  FROM `requests`
), `@p:val` AS (
  SELECT
    *,
    CASE
      WHEN (
        NOT NOT `input_tokens` IS NULL
      )
      THEN 'R001'
      WHEN `input_tokens` IS NULL
      THEN 'R003'
      ELSE CASE WHEN (
        `input_tokens` < 0 OR `input_tokens` > 10000000
      ) THEN 'R003' END
    END AS `@p:c0`,
    CASE
      WHEN NOT `input_tokens` IS NULL
      THEN SAFE_CAST(`input_tokens` AS NUMERIC(38, 0))
    END AS `@p:s0v`,
    CASE
      WHEN (
        NOT NOT `document_count` IS NULL
      )
      THEN NULL
      WHEN `document_count` IS NULL
      THEN 'R003'
      ELSE CASE WHEN (
        `document_count` < 0 OR `document_count` > 100000
      ) THEN 'R003' END
    END AS `@p:c1`,
    CASE
      WHEN NOT `document_count` IS NULL
      THEN SAFE_CAST(`document_count` AS NUMERIC(38, 0))
      ELSE 0
    END AS `@p:s1v`,
    CASE
      WHEN (
        NOT NOT `conversation_depth` IS NULL
      )
      THEN NULL
      WHEN `conversation_depth` IS NULL
      THEN 'R003'
      ELSE CASE
        WHEN (
          `conversation_depth` < 0 OR `conversation_depth` > 1000000
        )
        THEN 'R003'
      END
    END AS `@p:c2`,
    CASE
      WHEN NOT `conversation_depth` IS NULL
      THEN SAFE_CAST(`conversation_depth` AS NUMERIC(38, 0))
      ELSE 0
    END AS `@p:s2v`,
    CASE
      WHEN (
        NOT NOT `tool_count` IS NULL
      )
      THEN NULL
      WHEN `tool_count` IS NULL
      THEN 'R003'
      ELSE CASE WHEN (
        `tool_count` < 0 OR `tool_count` > 1000
      ) THEN 'R003' END
    END AS `@p:c3`,
    CASE
      WHEN NOT `tool_count` IS NULL
      THEN SAFE_CAST(`tool_count` AS NUMERIC(38, 0))
      ELSE 0
    END AS `@p:s3v`,
    CASE
      WHEN (
        NOT NOT `step_count` IS NULL
      )
      THEN NULL
      WHEN `step_count` IS NULL
      THEN 'R003'
      ELSE CASE WHEN (
        `step_count` < 0 OR `step_count` > 1000
      ) THEN 'R003' END
    END AS `@p:c4`,
    CASE
      WHEN NOT `step_count` IS NULL
      THEN SAFE_CAST(`step_count` AS NUMERIC(38, 0))
      ELSE 1
    END AS `@p:s4v`,
    CASE
      WHEN (
        NOT NOT `step` IS NULL
      )
      THEN NULL
      ELSE CASE WHEN `step` IN ('plan', 'execute', 'final') THEN NULL ELSE 'R003' END
    END AS `@p:c5`,
    CASE WHEN NOT `step` IS NULL THEN `step` ELSE 'execute' END AS `@p:s5v`,
    CASE WHEN (
      NOT NOT `agentic` IS NULL
    ) THEN NULL END AS `@p:c6`,
    CASE WHEN NOT `agentic` IS NULL THEN `agentic` ELSE FALSE END AS `@p:s6v`,
    CASE WHEN (
      NOT NOT `external_comms` IS NULL
    ) THEN NULL END AS `@p:c7`,
    CASE WHEN NOT `external_comms` IS NULL THEN `external_comms` ELSE FALSE END AS `@p:s7v`,
    CASE WHEN (
      NOT NOT `irreversible` IS NULL
    ) THEN NULL END AS `@p:c8`,
    CASE WHEN NOT `irreversible` IS NULL THEN `irreversible` ELSE FALSE END AS `@p:s8v`,
    CASE WHEN (
      NOT NOT `compliance_sensitive` IS NULL
    ) THEN NULL END AS `@p:c9`,
    CASE
      WHEN NOT `compliance_sensitive` IS NULL
      THEN `compliance_sensitive`
      ELSE FALSE
    END AS `@p:s9v`,
    CASE WHEN (
      NOT NOT `pii` IS NULL
    ) THEN NULL END AS `@p:c10`,
    CASE WHEN NOT `pii` IS NULL THEN `pii` ELSE FALSE END AS `@p:s10v`,
    CASE WHEN (
      NOT NOT `financial` IS NULL
    ) THEN NULL END AS `@p:c11`,
    CASE WHEN NOT `financial` IS NULL THEN `financial` ELSE FALSE END AS `@p:s11v`,
    CASE WHEN (
      NOT NOT `sync` IS NULL
    ) THEN NULL END AS `@p:c12`,
    CASE WHEN NOT `sync` IS NULL THEN `sync` ELSE TRUE END AS `@p:s12v`,
    CASE
      WHEN (
        NOT NOT `user_tier` IS NULL
      )
      THEN NULL
      ELSE CASE WHEN `user_tier` IN ('free', 'pro', 'enterprise') THEN NULL ELSE 'R003' END
    END AS `@p:c13`,
    CASE WHEN NOT `user_tier` IS NULL THEN `user_tier` ELSE 'free' END AS `@p:s13v`,
    CASE
      WHEN (
        NOT NOT `remaining_budget` IS NULL
      )
      THEN NULL
      ELSE CASE
        WHEN (
          `remaining_budget` < CAST('0' AS BIGNUMERIC)
          OR `remaining_budget` > CAST('1000000' AS BIGNUMERIC)
        )
        THEN 'R003'
      END
    END AS `@p:c14`,
    CASE
      WHEN NOT `remaining_budget` IS NULL
      THEN CAST(`remaining_budget` AS FLOAT64)
      ELSE CAST('1000000.0' AS FLOAT64)
    END AS `@p:s14v`,
    CASE
      WHEN NOT `remaining_budget` IS NULL
      THEN SAFE_CAST(`remaining_budget` AS NUMERIC(38, 18))
      ELSE CAST('1000000' AS BIGNUMERIC)
    END AS `@p:s14e`,
    CASE WHEN NOT `remaining_budget` IS NULL THEN FALSE ELSE FALSE END AS `@p:s14f`,
    CASE
      WHEN (
        NOT NOT `task` IS NULL
      )
      THEN 'R001'
      ELSE CASE
        WHEN `task` IN (
          'classify',
          'extract',
          'format',
          'translate',
          'summarize',
          'draft',
          'plan',
          'code',
          'legal_review',
          'refund_dispute'
        )
        THEN NULL
        ELSE 'R003'
      END
    END AS `@p:c15`,
    CASE WHEN NOT `task` IS NULL THEN `task` END AS `@p:s15v`,
    (
      NOT `@outcomes` IS NULL
      AND ARRAY_LENGTH(ARRAY(SELECT
        x
      FROM UNNEST(`@outcomes`) AS x
      WHERE
        x IS NULL)) > 0
    ) AS `@p:shape`,
    CASE WHEN NOT `@outcomes` IS NULL THEN ARRAY_LENGTH(`@outcomes`) ELSE 0 END AS `@p:n_outcomes`,
    CASE
      WHEN `@p:shape`
      THEN 'R002'
      WHEN NOT `@p:c0` IS NULL
      THEN `@p:c0`
      WHEN NOT `@p:c1` IS NULL
      THEN `@p:c1`
      WHEN NOT `@p:c2` IS NULL
      THEN `@p:c2`
      WHEN NOT `@p:c3` IS NULL
      THEN `@p:c3`
      WHEN NOT `@p:c4` IS NULL
      THEN `@p:c4`
      WHEN NOT `@p:c5` IS NULL
      THEN `@p:c5`
      WHEN NOT `@p:c6` IS NULL
      THEN `@p:c6`
      WHEN NOT `@p:c7` IS NULL
      THEN `@p:c7`
      WHEN NOT `@p:c8` IS NULL
      THEN `@p:c8`
      WHEN NOT `@p:c9` IS NULL
      THEN `@p:c9`
      WHEN NOT `@p:c10` IS NULL
      THEN `@p:c10`
      WHEN NOT `@p:c11` IS NULL
      THEN `@p:c11`
      WHEN NOT `@p:c12` IS NULL
      THEN `@p:c12`
      WHEN NOT `@p:c13` IS NULL
      THEN `@p:c13`
      WHEN NOT `@p:c14` IS NULL
      THEN `@p:c14`
      WHEN NOT `@p:c15` IS NULL
      THEN `@p:c15`
    END AS `@p:error`,
    CASE
      WHEN `@p:shape`
      THEN NULL
      WHEN NOT `@p:c0` IS NULL
      THEN 'input_tokens'
      WHEN NOT `@p:c1` IS NULL
      THEN 'document_count'
      WHEN NOT `@p:c2` IS NULL
      THEN 'conversation_depth'
      WHEN NOT `@p:c3` IS NULL
      THEN 'tool_count'
      WHEN NOT `@p:c4` IS NULL
      THEN 'step_count'
      WHEN NOT `@p:c5` IS NULL
      THEN 'step'
      WHEN NOT `@p:c6` IS NULL
      THEN 'agentic'
      WHEN NOT `@p:c7` IS NULL
      THEN 'external_comms'
      WHEN NOT `@p:c8` IS NULL
      THEN 'irreversible'
      WHEN NOT `@p:c9` IS NULL
      THEN 'compliance_sensitive'
      WHEN NOT `@p:c10` IS NULL
      THEN 'pii'
      WHEN NOT `@p:c11` IS NULL
      THEN 'financial'
      WHEN NOT `@p:c12` IS NULL
      THEN 'sync'
      WHEN NOT `@p:c13` IS NULL
      THEN 'user_tier'
      WHEN NOT `@p:c14` IS NULL
      THEN 'remaining_budget'
      WHEN NOT `@p:c15` IS NULL
      THEN 'task'
    END AS `@p:error_signal`,
    CASE
      WHEN (
        (
          NOT `input_tokens` IS NULL AND `input_tokens` IS NULL
        )
        OR (
          NOT `input_tokens` IS NULL
          AND ABS(`input_tokens`) > CAST('100000000000000000000' AS BIGNUMERIC)
        )
      )
      THEN 'input_tokens'
      WHEN (
        (
          NOT `document_count` IS NULL AND `document_count` IS NULL
        )
        OR (
          NOT `document_count` IS NULL
          AND ABS(`document_count`) > CAST('100000000000000000000' AS BIGNUMERIC)
        )
      )
      THEN 'document_count'
      WHEN (
        (
          NOT `conversation_depth` IS NULL AND `conversation_depth` IS NULL
        )
        OR (
          NOT `conversation_depth` IS NULL
          AND ABS(`conversation_depth`) > CAST('100000000000000000000' AS BIGNUMERIC)
        )
      )
      THEN 'conversation_depth'
      WHEN (
        (
          NOT `tool_count` IS NULL AND `tool_count` IS NULL
        )
        OR (
          NOT `tool_count` IS NULL
          AND ABS(`tool_count`) > CAST('100000000000000000000' AS BIGNUMERIC)
        )
      )
      THEN 'tool_count'
      WHEN (
        (
          NOT `step_count` IS NULL AND `step_count` IS NULL
        )
        OR (
          NOT `step_count` IS NULL
          AND ABS(`step_count`) > CAST('100000000000000000000' AS BIGNUMERIC)
        )
      )
      THEN 'step_count'
      WHEN (
        NOT `remaining_budget` IS NULL
        AND ABS(CAST(`remaining_budget` AS FLOAT64)) >= CAST('1e20' AS FLOAT64)
      )
      THEN 'remaining_budget'
    END AS `@p:unheld`
  FROM `@p:in`
), `@p:cond` AS (
  SELECT
    *,
    (
      `@p:s10v` AND `@p:s0v` <= 120000
    ) AS `@p:r0`,
    `@p:s10v` AS `@p:r1`,
    `@p:s0v` > 200000 AS `@p:r2`,
    `@p:s0v` > 100000 AS `@p:r3`,
    `@p:s15v` IN ('legal_review', 'refund_dispute') AS `@p:r4`,
    `@p:s3v` > 3 AS `@p:r5`,
    (
      `@p:s15v` IN ('classify', 'extract', 'format', 'translate') AND `@p:s0v` <= 8000
    ) AS `@p:r6`,
    (
      (
        `@p:s15v` = 'summarize'
      ) AND `@p:s0v` <= 4000
    ) AS `@p:r7`
  FROM `@p:val`
), `@p:rule` AS (
  SELECT
    *,
    CASE
      WHEN `@p:error` IS NULL AND NOT `@p:unheld` IS NULL
      THEN -1
      ELSE CASE
        WHEN NOT `@p:error` IS NULL
        THEN NULL
        WHEN `@p:r0` IS NULL
        THEN -1
        WHEN `@p:r0`
        THEN 0
        WHEN `@p:r1` IS NULL
        THEN -1
        WHEN `@p:r1`
        THEN 1
        WHEN `@p:r2` IS NULL
        THEN -1
        WHEN `@p:r2`
        THEN 2
        WHEN `@p:r3` IS NULL
        THEN -1
        WHEN `@p:r3`
        THEN 3
        WHEN `@p:r4` IS NULL
        THEN -1
        WHEN `@p:r4`
        THEN 4
        WHEN `@p:r5` IS NULL
        THEN -1
        WHEN `@p:r5`
        THEN 5
        WHEN `@p:r6` IS NULL
        THEN -1
        WHEN `@p:r6`
        THEN 6
        WHEN `@p:r7` IS NULL
        THEN -1
        WHEN `@p:r7`
        THEN 7
        ELSE 8
      END
    END AS `@p:rule`
  FROM `@p:cond`
), `@p:climb` AS (
  SELECT
    *,
    CASE
      WHEN `@p:n_outcomes` <= 0
      THEN 1
      WHEN NOT `@p:o0code` IS NULL
      THEN -100
      WHEN `@p:o0unheld`
      THEN -200
      WHEN `@p:e0_0` IS NULL
      THEN -200
      WHEN (
        NOT `@p:e0_0`
      )
      THEN 1
      WHEN `@p:n_outcomes` <= 1
      THEN 2
      WHEN NOT `@p:o1code` IS NULL
      THEN -101
      WHEN `@p:o1unheld`
      THEN -201
      WHEN `@p:e0_1` IS NULL
      THEN -201
      WHEN (
        NOT `@p:e0_1`
      )
      THEN 2
      ELSE 3
    END AS `@p:k0`
  FROM (
    SELECT
      *,
      (
        `@p:o0_0v` < CAST('0.7' AS FLOAT64) OR (
          NOT `@p:o0_1v`
        )
      ) AS `@p:e0_0`,
      (
        `@p:o1_0v` < CAST('0.5' AS FLOAT64) OR `@p:o1_2v` >= 3
      ) AS `@p:e0_1`
    FROM (
      SELECT
        *,
        CASE
          WHEN (
            NOT NOT `@outcomes`[SAFE_OFFSET(0)].`confidence` IS NULL
          )
          THEN NULL
          ELSE CASE
            WHEN (
              NOT (
                NOT IS_NAN(`@outcomes`[SAFE_OFFSET(0)].`confidence`)
                AND ABS(`@outcomes`[SAFE_OFFSET(0)].`confidence`) <= CAST('1.7976931348623157e308' AS FLOAT64)
              )
            )
            THEN 'R003'
            WHEN (
              `@outcomes`[SAFE_OFFSET(0)].`confidence` < CAST('0.0' AS FLOAT64)
              OR `@outcomes`[SAFE_OFFSET(0)].`confidence` > CAST('1.0' AS FLOAT64)
            )
            THEN 'R003'
          END
        END AS `@p:o0c0`,
        CASE
          WHEN NOT `@outcomes`[SAFE_OFFSET(0)].`confidence` IS NULL
          THEN `@outcomes`[SAFE_OFFSET(0)].`confidence`
          ELSE CAST('1.0' AS FLOAT64)
        END AS `@p:o0_0v`,
        CASE WHEN (
          NOT NOT `@outcomes`[SAFE_OFFSET(0)].`valid` IS NULL
        ) THEN NULL END AS `@p:o0c1`,
        CASE
          WHEN NOT `@outcomes`[SAFE_OFFSET(0)].`valid` IS NULL
          THEN `@outcomes`[SAFE_OFFSET(0)].`valid`
          ELSE TRUE
        END AS `@p:o0_1v`,
        CASE
          WHEN (
            NOT NOT `@outcomes`[SAFE_OFFSET(0)].`tool_failures` IS NULL
          )
          THEN NULL
          WHEN `@outcomes`[SAFE_OFFSET(0)].`tool_failures` IS NULL
          THEN 'R003'
          ELSE CASE
            WHEN (
              `@outcomes`[SAFE_OFFSET(0)].`tool_failures` < 0
              OR `@outcomes`[SAFE_OFFSET(0)].`tool_failures` > 1000
            )
            THEN 'R003'
          END
        END AS `@p:o0c2`,
        CASE
          WHEN NOT `@outcomes`[SAFE_OFFSET(0)].`tool_failures` IS NULL
          THEN SAFE_CAST(`@outcomes`[SAFE_OFFSET(0)].`tool_failures` AS NUMERIC(38, 0))
          ELSE 0
        END AS `@p:o0_2v`,
        CASE
          WHEN (
            NOT NOT `@outcomes`[SAFE_OFFSET(0)].`retries` IS NULL
          )
          THEN NULL
          WHEN `@outcomes`[SAFE_OFFSET(0)].`retries` IS NULL
          THEN 'R003'
          ELSE CASE
            WHEN (
              `@outcomes`[SAFE_OFFSET(0)].`retries` < 0
              OR `@outcomes`[SAFE_OFFSET(0)].`retries` > 1000
            )
            THEN 'R003'
          END
        END AS `@p:o0c3`,
        CASE
          WHEN NOT `@outcomes`[SAFE_OFFSET(0)].`retries` IS NULL
          THEN SAFE_CAST(`@outcomes`[SAFE_OFFSET(0)].`retries` AS NUMERIC(38, 0))
          ELSE 0
        END AS `@p:o0_3v`,
        CASE
          WHEN NOT `@p:o0c0` IS NULL
          THEN `@p:o0c0`
          WHEN NOT `@p:o0c1` IS NULL
          THEN `@p:o0c1`
          WHEN NOT `@p:o0c2` IS NULL
          THEN `@p:o0c2`
          WHEN NOT `@p:o0c3` IS NULL
          THEN `@p:o0c3`
        END AS `@p:o0code`,
        CASE
          WHEN NOT `@p:o0c0` IS NULL
          THEN 'confidence'
          WHEN NOT `@p:o0c1` IS NULL
          THEN 'valid'
          WHEN NOT `@p:o0c2` IS NULL
          THEN 'tool_failures'
          WHEN NOT `@p:o0c3` IS NULL
          THEN 'retries'
        END AS `@p:o0signal`,
        (
          (
            (
              NOT `@outcomes`[SAFE_OFFSET(0)].`tool_failures` IS NULL
              AND `@outcomes`[SAFE_OFFSET(0)].`tool_failures` IS NULL
            )
            OR (
              NOT `@outcomes`[SAFE_OFFSET(0)].`tool_failures` IS NULL
              AND ABS(`@outcomes`[SAFE_OFFSET(0)].`tool_failures`) > CAST('100000000000000000000' AS BIGNUMERIC)
            )
          )
          OR (
            (
              NOT `@outcomes`[SAFE_OFFSET(0)].`retries` IS NULL
              AND `@outcomes`[SAFE_OFFSET(0)].`retries` IS NULL
            )
            OR (
              NOT `@outcomes`[SAFE_OFFSET(0)].`retries` IS NULL
              AND ABS(`@outcomes`[SAFE_OFFSET(0)].`retries`) > CAST('100000000000000000000' AS BIGNUMERIC)
            )
          )
        ) AS `@p:o0unheld`,
        CASE
          WHEN (
            NOT NOT `@outcomes`[SAFE_OFFSET(1)].`confidence` IS NULL
          )
          THEN NULL
          ELSE CASE
            WHEN (
              NOT (
                NOT IS_NAN(`@outcomes`[SAFE_OFFSET(1)].`confidence`)
                AND ABS(`@outcomes`[SAFE_OFFSET(1)].`confidence`) <= CAST('1.7976931348623157e308' AS FLOAT64)
              )
            )
            THEN 'R003'
            WHEN (
              `@outcomes`[SAFE_OFFSET(1)].`confidence` < CAST('0.0' AS FLOAT64)
              OR `@outcomes`[SAFE_OFFSET(1)].`confidence` > CAST('1.0' AS FLOAT64)
            )
            THEN 'R003'
          END
        END AS `@p:o1c0`,
        CASE
          WHEN NOT `@outcomes`[SAFE_OFFSET(1)].`confidence` IS NULL
          THEN `@outcomes`[SAFE_OFFSET(1)].`confidence`
          ELSE CAST('1.0' AS FLOAT64)
        END AS `@p:o1_0v`,
        CASE WHEN (
          NOT NOT `@outcomes`[SAFE_OFFSET(1)].`valid` IS NULL
        ) THEN NULL END AS `@p:o1c1`,
        CASE
          WHEN NOT `@outcomes`[SAFE_OFFSET(1)].`valid` IS NULL
          THEN `@outcomes`[SAFE_OFFSET(1)].`valid`
          ELSE TRUE
        END AS `@p:o1_1v`,
        CASE
          WHEN (
            NOT NOT `@outcomes`[SAFE_OFFSET(1)].`tool_failures` IS NULL
          )
          THEN NULL
          WHEN `@outcomes`[SAFE_OFFSET(1)].`tool_failures` IS NULL
          THEN 'R003'
          ELSE CASE
            WHEN (
              `@outcomes`[SAFE_OFFSET(1)].`tool_failures` < 0
              OR `@outcomes`[SAFE_OFFSET(1)].`tool_failures` > 1000
            )
            THEN 'R003'
          END
        END AS `@p:o1c2`,
        CASE
          WHEN NOT `@outcomes`[SAFE_OFFSET(1)].`tool_failures` IS NULL
          THEN SAFE_CAST(`@outcomes`[SAFE_OFFSET(1)].`tool_failures` AS NUMERIC(38, 0))
          ELSE 0
        END AS `@p:o1_2v`,
        CASE
          WHEN (
            NOT NOT `@outcomes`[SAFE_OFFSET(1)].`retries` IS NULL
          )
          THEN NULL
          WHEN `@outcomes`[SAFE_OFFSET(1)].`retries` IS NULL
          THEN 'R003'
          ELSE CASE
            WHEN (
              `@outcomes`[SAFE_OFFSET(1)].`retries` < 0
              OR `@outcomes`[SAFE_OFFSET(1)].`retries` > 1000
            )
            THEN 'R003'
          END
        END AS `@p:o1c3`,
        CASE
          WHEN NOT `@outcomes`[SAFE_OFFSET(1)].`retries` IS NULL
          THEN SAFE_CAST(`@outcomes`[SAFE_OFFSET(1)].`retries` AS NUMERIC(38, 0))
          ELSE 0
        END AS `@p:o1_3v`,
        CASE
          WHEN NOT `@p:o1c0` IS NULL
          THEN `@p:o1c0`
          WHEN NOT `@p:o1c1` IS NULL
          THEN `@p:o1c1`
          WHEN NOT `@p:o1c2` IS NULL
          THEN `@p:o1c2`
          WHEN NOT `@p:o1c3` IS NULL
          THEN `@p:o1c3`
        END AS `@p:o1code`,
        CASE
          WHEN NOT `@p:o1c0` IS NULL
          THEN 'confidence'
          WHEN NOT `@p:o1c1` IS NULL
          THEN 'valid'
          WHEN NOT `@p:o1c2` IS NULL
          THEN 'tool_failures'
          WHEN NOT `@p:o1c3` IS NULL
          THEN 'retries'
        END AS `@p:o1signal`,
        (
          (
            (
              NOT `@outcomes`[SAFE_OFFSET(1)].`tool_failures` IS NULL
              AND `@outcomes`[SAFE_OFFSET(1)].`tool_failures` IS NULL
            )
            OR (
              NOT `@outcomes`[SAFE_OFFSET(1)].`tool_failures` IS NULL
              AND ABS(`@outcomes`[SAFE_OFFSET(1)].`tool_failures`) > CAST('100000000000000000000' AS BIGNUMERIC)
            )
          )
          OR (
            (
              NOT `@outcomes`[SAFE_OFFSET(1)].`retries` IS NULL
              AND `@outcomes`[SAFE_OFFSET(1)].`retries` IS NULL
            )
            OR (
              NOT `@outcomes`[SAFE_OFFSET(1)].`retries` IS NULL
              AND ABS(`@outcomes`[SAFE_OFFSET(1)].`retries`) > CAST('100000000000000000000' AS BIGNUMERIC)
            )
          )
        ) AS `@p:o1unheld`
      FROM `@p:rule`
    )
  )
), `@p:out` AS (
  SELECT
    *,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = 0
        THEN 'pii_onprem'
        WHEN `@p:rule` = 1
        THEN 'pii_too_big'
        WHEN `@p:rule` = 2
        THEN 'too_large'
        WHEN `@p:rule` = 3
        THEN 'long_context'
        WHEN `@p:rule` = 4
        THEN 'high_stakes'
        WHEN `@p:rule` = 5
        THEN 'tool_heavy'
        WHEN `@p:rule` = 6
        THEN 'cheap'
        WHEN `@p:rule` = 7
        THEN 'short_sum'
        WHEN `@p:rule` = 8
        THEN 'default'
      END
    END AS `@p:o:rule`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = 0
        THEN 'onprem'
        WHEN `@p:rule` = 1
        THEN NULL
        WHEN `@p:rule` = 2
        THEN NULL
        WHEN `@p:rule` = 3
        THEN 'fast'
        WHEN `@p:rule` = 4
        THEN 'frontier'
        WHEN `@p:rule` = 5
        THEN 'mid'
        WHEN `@p:rule` = 6
        THEN 'fast'
        WHEN `@p:rule` = 7
        THEN 'fast'
        WHEN `@p:rule` = 8
        THEN 'mid'
      END
    END AS `@p:o:model`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = -2
        THEN ARRAY<STRING>[]
        ELSE CASE
          WHEN `@p:rule` = 0
          THEN ARRAY<STRING>['onprem']
          WHEN `@p:rule` = 1
          THEN ARRAY<STRING>[]
          WHEN `@p:rule` = 2
          THEN ARRAY<STRING>[]
          WHEN `@p:rule` = 3
          THEN ARRAY<STRING>['fast']
          WHEN `@p:rule` = 4
          THEN ARRAY<STRING>['frontier']
          WHEN `@p:rule` = 5
          THEN ARRAY<STRING>['mid']
          WHEN `@p:rule` = 6
          THEN ARRAY<STRING>['fast', 'mid', 'frontier']
          WHEN `@p:rule` = 7
          THEN ARRAY<STRING>['fast']
          WHEN `@p:rule` = 8
          THEN ARRAY<STRING>['mid']
        END
      END
    END AS `@p:o:steps`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = 0
        THEN CAST(4000 AS INT64)
        WHEN `@p:rule` = 1
        THEN NULL
        WHEN `@p:rule` = 2
        THEN NULL
        WHEN `@p:rule` = 3
        THEN CAST(4000 AS INT64)
        WHEN `@p:rule` = 4
        THEN CAST(4000 AS INT64)
        WHEN `@p:rule` = 5
        THEN CAST(4000 AS INT64)
        WHEN `@p:rule` = 6
        THEN CAST(4000 AS INT64)
        WHEN `@p:rule` = 7
        THEN CAST(1000 AS INT64)
        WHEN `@p:rule` = 8
        THEN CAST(4000 AS INT64)
      END
    END AS `@p:o:max_output`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = -2
        THEN ARRAY<INT64>[]
        ELSE CASE
          WHEN `@p:rule` = 0
          THEN ARRAY<INT64>[4000]
          WHEN `@p:rule` = 1
          THEN ARRAY<INT64>[]
          WHEN `@p:rule` = 2
          THEN ARRAY<INT64>[]
          WHEN `@p:rule` = 3
          THEN ARRAY<INT64>[4000]
          WHEN `@p:rule` = 4
          THEN ARRAY<INT64>[4000]
          WHEN `@p:rule` = 5
          THEN ARRAY<INT64>[4000]
          WHEN `@p:rule` = 6
          THEN ARRAY<INT64>[4000, 4000, 4000]
          WHEN `@p:rule` = 7
          THEN ARRAY<INT64>[1000]
          WHEN `@p:rule` = 8
          THEN ARRAY<INT64>[4000]
        END
      END
    END AS `@p:o:caps`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = 0
        THEN NULL
        WHEN `@p:rule` = 1
        THEN 'PII input too large for the on-prem model'
        WHEN `@p:rule` = 2
        THEN 'input too large'
        WHEN `@p:rule` = 3
        THEN NULL
        WHEN `@p:rule` = 4
        THEN NULL
        WHEN `@p:rule` = 5
        THEN NULL
        WHEN `@p:rule` = 6
        THEN NULL
        WHEN `@p:rule` = 7
        THEN NULL
        WHEN `@p:rule` = 8
        THEN NULL
      END
    END AS `@p:o:reject`,
    CASE
      WHEN (
        `@p:rule` IS NULL
        OR `@p:rule` = -1
        OR (
          `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END < 0
        )
      )
      THEN NULL
      ELSE CASE
        WHEN `@p:rule` = -2
        THEN ARRAY<STRING>[]
        WHEN `@p:rule` = 0
        THEN ARRAY<STRING>['onprem']
        WHEN `@p:rule` = 1
        THEN ARRAY<STRING>[]
        WHEN `@p:rule` = 2
        THEN ARRAY<STRING>[]
        WHEN `@p:rule` = 3
        THEN ARRAY<STRING>['fast']
        WHEN `@p:rule` = 4
        THEN ARRAY<STRING>['frontier']
        WHEN `@p:rule` = 5
        THEN ARRAY<STRING>['mid']
        WHEN `@p:rule` = 6 AND `@p:k0` = 1
        THEN ARRAY<STRING>['fast']
        WHEN `@p:rule` = 6 AND `@p:k0` = 2
        THEN ARRAY<STRING>['fast', 'mid']
        WHEN `@p:rule` = 6 AND `@p:k0` = 3
        THEN ARRAY<STRING>['fast', 'mid', 'frontier']
        WHEN `@p:rule` = 7
        THEN ARRAY<STRING>['fast']
        WHEN `@p:rule` = 8
        THEN ARRAY<STRING>['mid']
      END
    END AS `@p:o:path`,
    CASE
      WHEN NOT `@p:error` IS NULL
      THEN `@p:error`
      WHEN (
        `@p:rule` = -1
        OR (
          `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END <= -200
        )
      )
      THEN 'S001'
      WHEN `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END < 0
      THEN CASE
        WHEN CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END = -100
        THEN `@p:o0code`
        WHEN CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END = -101
        THEN `@p:o1code`
      END
    END AS `@p:o:error_code`,
    CASE
      WHEN NOT `@p:error` IS NULL
      THEN `@p:error_signal`
      WHEN `@p:rule` = -1
      THEN `@p:unheld`
      WHEN `@p:rule` >= 0 AND CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END < 0
      THEN CASE
        WHEN CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END = -100
        THEN `@p:o0signal`
        WHEN CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END = -101
        THEN `@p:o1signal`
      END
    END AS `@p:o:error_signal`,
    CASE WHEN `@p:rule` = 6 THEN `@p:k0` ELSE 1 END AS `@p:climb`
  FROM `@p:climb`
)
SELECT
  `input_tokens`,
  `document_count`,
  `conversation_depth`,
  `tool_count`,
  `step_count`,
  `step`,
  `agentic`,
  `external_comms`,
  `irreversible`,
  `compliance_sensitive`,
  `pii`,
  `financial`,
  `sync`,
  `user_tier`,
  `remaining_budget`,
  `task`,
  `@outcomes`,
  `@output_tokens`,
  `@p:o:rule` AS `rule`,
  `@p:o:model` AS `model`,
  `@p:o:steps` AS `steps`,
  `@p:o:max_output` AS `max_output`,
  `@p:o:caps` AS `caps`,
  `@p:o:reject` AS `reject`,
  `@p:o:path` AS `path`,
  `@p:o:error_code` AS `error_code`,
  `@p:o:error_signal` AS `error_signal`
FROM `@p:out`
