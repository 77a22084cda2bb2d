//! A job body's exclusive group (DESIGN.md, "Definitions you can trust"): the name and the
//! policy checked together, since a policy means nothing without a group.

use crate::api::ApiError;
use crate::model::{Exclusive, ExclusivePolicy, MAX_GROUP_LEN, valid_group};

/// A body's exclusive group: a valid name, and a policy only beside one.
pub(super) fn parse_exclusive(
    group: Option<String>,
    policy: Option<&str>,
) -> Result<Option<Exclusive>, ApiError> {
    let policy = policy
        .map(|text| {
            text.parse::<ExclusivePolicy>().map_err(|_| {
                ApiError::validation(
                    "exclusive_policy",
                    format!(
                        "must be `skip` or `wait`, got `{}`",
                        crate::api::truncate(text, 64)
                    ),
                )
            })
        })
        .transpose()?;
    let Some(group) = group else {
        return match policy {
            Some(_) => Err(ApiError::validation(
                "exclusive_policy",
                "needs `exclusive_group`: a policy says what happens when the group is held",
            )),
            None => Ok(None),
        };
    };
    if !valid_group(&group) {
        return Err(ApiError::validation(
            "exclusive_group",
            format!(
                "must be 1 to {MAX_GROUP_LEN} characters of A-Z a-z 0-9 . _ : -, got `{}`",
                crate::api::truncate(&group, 64)
            ),
        ));
    }
    Ok(Some(Exclusive {
        group,
        policy: policy.unwrap_or_default(),
    }))
}
