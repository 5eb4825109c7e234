//! The dimension catalogue (the reference data of `information.php`): which API fills which
//! `dim_*` table, its key, the attributes whose change starts a new version (tracked) and those
//! updated in place (volatile).
//! The tables themselves are in `migrations/*/20261130000030_dimensions.sql`; a test keeps the
//! two in step.

/// One dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dimension {
    /// The `information.php` API (`api=…`).
    pub api: &'static str,
    /// The table.
    pub table: &'static str,
    /// Key columns (besides `account`).
    pub key: &'static [&'static str],
    /// Attributes whose change starts a new version.
    pub tracked: &'static [&'static str],
    /// Attributes that change on every read, updated in place on the current version.
    pub volatile: &'static [&'static str],
    /// How the API is asked.
    pub ask: Ask,
}

/// How a dimension's API is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// Once, without parameters.
    Once,
    /// Once per current skill of `dim_skill` (`skill_id` is required), the skill kept as a column.
    PerSkill,
    /// Once; the answer is one object, kept under the constant key `services`.
    Single,
}

/// Every dimension, in the order a pass reads them (skills before the agents of each skill).
pub const ALL: &[Dimension] = &[
    Dimension {
        api: "agents",
        table: "dim_agent",
        key: &["agent_id"],
        tracked: &["agent_name", "agent_dni", "agent_status", "agent_sso", "enabled"],
        volatile: &["last_use"],
        ask: Ask::Once,
    },
    Dimension {
        api: "skills",
        table: "dim_skill",
        key: &["skill_id"],
        tracked: &["skill_name", "skill_description"],
        volatile: &["last_use"],
        ask: Ask::Once,
    },
    Dimension {
        api: "campaigns",
        table: "dim_campaign",
        key: &["campaign_id"],
        tracked: &[
            "campaign_name",
            "campaign_description",
            "type_campaign",
            "status",
            "speed",
            "dial_mode",
            "turbo_dial",
            "skill_id",
        ],
        volatile: &["records", "recycled", "last_use"],
        ask: Ask::Once,
    },
    Dimension {
        api: "activity_codes",
        table: "dim_activity_code",
        // The same code text can exist in both groups.
        key: &["type_code", "cod_act"],
        tracked: &["description_cod_act", "hit", "rpc", "chat", "studio", "voice", "interactions"],
        volatile: &[],
        ask: Ask::Once,
    },
    Dimension {
        api: "routing_points",
        table: "dim_routing_point",
        key: &["rp_id"],
        tracked: &["rp_name", "ivr_active", "chat_active", "interaction_active", "crm_active"],
        volatile: &["last_use"],
        ask: Ask::Once,
    },
    Dimension {
        api: "connectors",
        table: "dim_connector",
        key: &["connector_id"],
        tracked: &["rp_id", "name", "channel"],
        volatile: &[],
        ask: Ask::Once,
    },
    Dimension {
        api: "agents_in_skill",
        table: "dim_agent_skill",
        key: &["skill_id", "agent_id"],
        tracked: &["agent_name", "expertise"],
        volatile: &["last_use"],
        ask: Ask::PerSkill,
    },
    Dimension {
        api: "services",
        table: "dim_service",
        key: &["service"],
        tracked: &["licenses", "pbx"],
        volatile: &[],
        ask: Ask::Single,
    },
];

impl Dimension {
    /// The dimension filled by `api` or stored in `table`.
    pub fn find(name: &str) -> Option<&'static Dimension> {
        ALL.iter().find(|d| d.api == name || d.table == name)
    }

    /// Every column the table holds for the API's fields: key, tracked, volatile.
    pub fn columns(&self) -> impl Iterator<Item = &'static str> {
        self.key.iter().chain(self.tracked).chain(self.volatile).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The migrations create exactly the columns the catalogue names, on both backends.
    #[test]
    fn the_migrations_create_every_dimension_with_its_columns() {
        for sql in [
            include_str!("../../../migrations/postgres/20261130000030_dimensions.sql"),
            include_str!("../../../migrations/sqlite/20261130000030_dimensions.sql"),
        ] {
            for d in ALL {
                let start = sql.find(&format!("CREATE TABLE {} (", d.table)).unwrap_or_else(|| panic!("{}", d.table));
                let body = &sql[start..start + sql[start..].find(");").unwrap()];
                let columns: Vec<&str> = body
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_whitespace().next())
                    .filter(|c| *c != "PRIMARY")
                    .collect();
                let mut want = vec!["account"];
                want.extend(d.columns());
                want.extend(["valid_from", "valid_to", "is_current", "attr_hash", "raw"]);
                assert_eq!(columns, want, "{}", d.table);
            }
        }
    }
}
