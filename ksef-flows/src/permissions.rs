//! Permissions of the authenticated context: grants to persons, to entities and entity
//! authorizations (self-invoicing, tax representative, ...), revocation, the status of those
//! asynchronous operations, and the queries that list granted permissions (every page).
//!
//! A grant or a revocation answers with the reference number of an operation; the functions
//! here wait for its outcome ([`PermissionOperation`]) and turn a failed one into
//! [`FlowError::PermissionOperationFailed`]. A grant counts from the holder's next
//! authentication (permissions travel in the access token).

use ksef_api::KsefHeaders as _;
use ksef_api::operations::{OperationMeta, op};
use ksef_api::types;

use crate::arguments::permission_id;
use crate::auth::{AuthSession, CallError};
use crate::error::{FlowError, Result};
use futures::TryStreamExt as _;

use crate::paging::{PageGuard, listing};
use crate::retry::Idempotency;
use crate::wait::Polling;

/// Entries read per page of a listing (the largest page KSeF serves).
const PAGE_SIZE: i32 = 100;
/// Most entries one listing may have before the listing is taken for endless.
const MAX_LISTED: usize = 100_000;

/// The status code of a permission operation that is still in progress.
const IN_PROGRESS: i32 = 100;
/// The status code of a permission operation that succeeded.
const SUCCEEDED: i32 = 200;

/// The outcome of a grant or a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermissionOperation {
    /// Reference number of the operation (`GET /permissions/operations/{referenceNumber}`).
    pub reference_number: String,
    /// Final status code (200).
    pub code: i32,
    /// Status description.
    pub description: String,
}

fn call_error(operation: &'static OperationMeta) -> impl FnOnce(CallError) -> FlowError {
    move |e| {
        e.into_flow(|source| FlowError::Call {
            operation: operation.name,
            source,
        })
    }
}

fn check_description(description: &str) -> Result<()> {
    let n = description.chars().count();
    if (5..=256).contains(&n) {
        Ok(())
    } else {
        Err(FlowError::InvalidArgument {
            field: "description",
            rule: format!("5 to 256 characters (has {n})"),
        })
    }
}

fn check_unique<T: PartialEq + std::fmt::Debug>(items: &[T]) -> Result<()> {
    if items.is_empty() {
        return Err(FlowError::InvalidArgument {
            field: "permissions",
            rule: "at least one permission".into(),
        });
    }
    for (i, p) in items.iter().enumerate() {
        if items[..i].contains(p) {
            return Err(FlowError::InvalidArgument {
                field: "permissions",
                rule: format!("{p:?} is named twice"),
            });
        }
    }
    Ok(())
}

impl AuthSession {
    /// Grants permissions to a person (`POST /permissions/persons/grants`) in the current
    /// context and waits for the operation's outcome.
    pub async fn grant_person_permissions(
        &self,
        request: &types::PersonPermissionsGrantRequest,
    ) -> Result<PermissionOperation> {
        check_description(&request.description)?;
        check_unique(&request.permissions)?;
        let o = op::POST_PERMISSIONS_PERSONS_GRANTS;
        let r = self
            .call(o, Idempotency::Unsafe, |api| {
                api.post_permissions_persons_grants()
                    .body(request.clone())
                    .send()
            })
            .await
            .map_err(call_error(o))?
            .into_inner();
        self.wait_permission_operation(&r.reference_number.0).await
    }

    /// Grants invoice permissions to an entity (`POST /permissions/entities/grants`) in the
    /// current context and waits for the operation's outcome.
    pub async fn grant_entity_permissions(
        &self,
        request: &types::EntityPermissionsGrantRequest,
    ) -> Result<PermissionOperation> {
        check_description(&request.description)?;
        let kinds: Vec<_> = request
            .permissions
            .iter()
            .map(|p| p.type_.clone())
            .collect();
        check_unique(&kinds)?;
        let o = op::POST_PERMISSIONS_ENTITIES_GRANTS;
        let r = self
            .call(o, Idempotency::Unsafe, |api| {
                api.post_permissions_entities_grants()
                    .body(request.clone())
                    .send()
            })
            .await
            .map_err(call_error(o))?
            .into_inner();
        self.wait_permission_operation(&r.reference_number.0).await
    }

    /// Grants an entity authorization (self-invoicing, RR invoicing, tax representative, PEF
    /// invoicing; `POST /permissions/authorizations/grants`) and waits for the outcome.
    pub async fn grant_entity_authorization(
        &self,
        request: &types::EntityAuthorizationPermissionsGrantRequest,
    ) -> Result<PermissionOperation> {
        check_description(&request.description)?;
        let o = op::POST_PERMISSIONS_AUTHORIZATIONS_GRANTS;
        let r = self
            .call(o, Idempotency::Unsafe, |api| {
                api.post_permissions_authorizations_grants()
                    .body(request.clone())
                    .send()
            })
            .await
            .map_err(call_error(o))?
            .into_inner();
        self.wait_permission_operation(&r.reference_number.0).await
    }

    /// Revokes a permission of a person or an entity (`DELETE
    /// /permissions/common/grants/{permissionId}`) and waits for the outcome. Entity
    /// authorizations are revoked with [`AuthSession::revoke_entity_authorization`].
    pub async fn revoke_permission(&self, permission_id_: &str) -> Result<PermissionOperation> {
        let id = permission_id(permission_id_)?;
        let o = op::DELETE_PERMISSIONS_COMMON_GRANTS_BY_PERMISSION_ID;
        let r = self
            .call(o, Idempotency::Unsafe, |api| {
                api.delete_permissions_common_grants_by_permission_id()
                    .permission_id(id.clone())
                    .send()
            })
            .await
            .map_err(call_error(o))?
            .into_inner();
        self.wait_permission_operation(&r.reference_number.0).await
    }

    /// Revokes an entity authorization (`DELETE
    /// /permissions/authorizations/grants/{permissionId}`) and waits for the outcome.
    pub async fn revoke_entity_authorization(
        &self,
        permission_id_: &str,
    ) -> Result<PermissionOperation> {
        let id = permission_id(permission_id_)?;
        let o = op::DELETE_PERMISSIONS_AUTHORIZATIONS_GRANTS_BY_PERMISSION_ID;
        let r = self
            .call(o, Idempotency::Unsafe, |api| {
                api.delete_permissions_authorizations_grants_by_permission_id()
                    .permission_id(id.clone())
                    .send()
            })
            .await
            .map_err(call_error(o))?
            .into_inner();
        self.wait_permission_operation(&r.reference_number.0).await
    }

    /// The status of a grant or revocation (`GET /permissions/operations/{referenceNumber}`):
    /// 100 in progress, 200 done, 400 and above failed.
    pub async fn permission_operation_status(
        &self,
        reference_number: &str,
    ) -> Result<types::PermissionsOperationStatusResponse> {
        let r = crate::arguments::reference(reference_number)?;
        Ok(self.permission_operation_answer(&r).await?.into_inner())
    }

    /// One answer of `GET /permissions/operations/{referenceNumber}`, headers included.
    async fn permission_operation_answer(
        &self,
        r: &str,
    ) -> Result<ksef_api::ResponseValue<types::PermissionsOperationStatusResponse>> {
        let o = op::GET_PERMISSIONS_OPERATIONS_BY_REFERENCE_NUMBER;
        self.call(o, Idempotency::Safe, |api| {
            api.get_permissions_operations_by_reference_number()
                .reference_number(r.to_owned())
                .send()
        })
        .await
        .map_err(call_error(o))
    }

    /// Polls a grant or revocation until it ends: its outcome when it succeeded,
    /// [`FlowError::PermissionOperationFailed`] when KSeF refused it, [`FlowError::Timeout`]
    /// when it did not end within the client's poll timeout.
    pub async fn wait_permission_operation(
        &self,
        reference_number: &str,
    ) -> Result<PermissionOperation> {
        let r = crate::arguments::reference(reference_number)?;
        let mut polling = Polling::start(self.ksef().poll_schedule());
        loop {
            let answer = self.permission_operation_answer(&r).await?;
            let retry_after = answer.retry_after();
            let status = answer.into_inner().status;
            match status.code {
                IN_PROGRESS => {}
                SUCCEEDED => {
                    tracing::info!(reference_number = %r, "permission operation succeeded");
                    return Ok(PermissionOperation {
                        reference_number: r,
                        code: status.code,
                        description: status.description,
                    });
                }
                code => {
                    return Err(FlowError::PermissionOperationFailed {
                        reference_number: r,
                        code,
                        description: status.description,
                        details: status.details.unwrap_or_default(),
                    });
                }
            }
            if !polling.pause(retry_after).await {
                return Err(FlowError::Timeout("the permission operation to end"));
            }
        }
    }

    /// Every page of a listing paged by `pageOffset` and `hasMore`, read through the shared
    /// pager ([`listing`]): `fetch` reads the page at an offset.
    async fn all_offset_pages<T, F, Fut>(
        &self,
        o: &'static OperationMeta,
        mut fetch: F,
    ) -> Result<Vec<T>>
    where
        T: Send,
        F: FnMut(i32) -> Fut + Send,
        Fut: std::future::Future<Output = Result<(Vec<T>, bool)>> + Send,
    {
        let guard = PageGuard::new(o.name, MAX_LISTED, Some(PAGE_SIZE as u32));
        listing(guard, move |cursor: Option<i32>| {
            let offset = cursor.unwrap_or(0);
            let page = fetch(offset);
            async move {
                let (items, has_more) = page.await?;
                let next = next_offset(offset, items.len(), has_more);
                Ok((items, next))
            }
        })
        .try_collect()
        .await
    }

    /// Permissions of persons (`POST /permissions/query/persons/grants`), every page: those in
    /// force in the current context, or those granted in it by this caller (`queryType`).
    pub async fn list_person_permissions(
        &self,
        query: &types::PersonPermissionsQueryRequest,
    ) -> Result<Vec<types::PersonPermission>> {
        let o = op::POST_PERMISSIONS_QUERY_PERSONS_GRANTS;
        self.all_offset_pages(o, |offset| async move {
            let page = self
                .call(o, Idempotency::Safe, |api| {
                    api.post_permissions_query_persons_grants()
                        .page_offset(offset)
                        .page_size(PAGE_SIZE)
                        .body(query.clone())
                        .send()
                })
                .await
                .map_err(call_error(o))?
                .into_inner();
            Ok((page.permissions, page.has_more))
        })
        .await
    }

    /// The caller's own permissions (`POST /permissions/query/personal/grants`), every page.
    pub async fn list_personal_permissions(
        &self,
        query: &types::PersonalPermissionsQueryRequest,
    ) -> Result<Vec<types::PersonalPermission>> {
        let o = op::POST_PERMISSIONS_QUERY_PERSONAL_GRANTS;
        self.all_offset_pages(o, |offset| async move {
            let page = self
                .call(o, Idempotency::Safe, |api| {
                    api.post_permissions_query_personal_grants()
                        .page_offset(offset)
                        .page_size(PAGE_SIZE)
                        .body(query.clone())
                        .send()
                })
                .await
                .map_err(call_error(o))?
                .into_inner();
            Ok((page.permissions, page.has_more))
        })
        .await
    }

    /// Permissions entities hold in the current context (`POST
    /// /permissions/query/entities/grants`), every page.
    pub async fn list_entity_permissions(
        &self,
        query: &types::EntityPermissionsQueryRequest,
    ) -> Result<Vec<types::EntityPermissionItem>> {
        let o = op::POST_PERMISSIONS_QUERY_ENTITIES_GRANTS;
        self.all_offset_pages(o, |offset| async move {
            let page = self
                .call(o, Idempotency::Safe, |api| {
                    api.post_permissions_query_entities_grants()
                        .page_offset(offset)
                        .page_size(PAGE_SIZE)
                        .body(query.clone())
                        .send()
                })
                .await
                .map_err(call_error(o))?
                .into_inner();
            Ok((page.permissions, page.has_more))
        })
        .await
    }

    /// Entity authorizations the context granted or received (`POST
    /// /permissions/query/authorizations/grants`), every page.
    pub async fn list_entity_authorizations(
        &self,
        query: &types::EntityAuthorizationPermissionsQueryRequest,
    ) -> Result<Vec<types::EntityAuthorizationGrant>> {
        let o = op::POST_PERMISSIONS_QUERY_AUTHORIZATIONS_GRANTS;
        self.all_offset_pages(o, |offset| async move {
            let page = self
                .call(o, Idempotency::Safe, |api| {
                    api.post_permissions_query_authorizations_grants()
                        .page_offset(offset)
                        .page_size(PAGE_SIZE)
                        .body(query.clone())
                        .send()
                })
                .await
                .map_err(call_error(o))?
                .into_inner();
            Ok((page.authorization_grants, page.has_more))
        })
        .await
    }
}

/// The offset of the next page (`None` at the end): these listings page by `pageOffset` (the
/// page's number) and `hasMore`; an empty page ends the listing whatever `hasMore` says.
fn next_offset(offset: i32, items: usize, has_more: bool) -> Option<i32> {
    (has_more && items > 0).then(|| offset.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked_before_anything_is_sent() {
        assert!(check_description("four").is_err());
        assert!(check_description("five!").is_ok());
        assert!(check_description(&"x".repeat(257)).is_err());
        assert!(check_unique::<u8>(&[]).is_err());
        assert!(check_unique(&[1, 2, 1]).is_err());
        assert!(check_unique(&[1, 2]).is_ok());
        assert!(permission_id("0b6c3e8a-8a4e-4b6c-9d7e-0a1b2c3d4e5f").is_ok());
        assert!(permission_id("../../auth/sessions").is_err());
        assert!(permission_id("0b6c3e8a-8a4e-4b6c-9d7e-0a1b2c3d4e5/").is_err());
    }

    #[test]
    fn offset_paging_ends_on_the_last_page_and_on_empty_pages() {
        assert_eq!(next_offset(0, 100, true), Some(1));
        assert_eq!(next_offset(2, 5, false), None);
        // a server that claims more but serves nothing does not loop
        assert_eq!(next_offset(0, 0, true), None);
    }
}
