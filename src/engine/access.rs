//! API keys and agent tokens: creation, listing, revocation and authentication. The rules
//! (what a key may hand out, how a token narrows) live in [`crate::access`]; this is where
//! they meet the store.

use chrono::Utc;
use serde_json::Value;

use super::{Engine, EngineError, Result};
use crate::access::{self, AccessError, KeyInput, KeyRecord, Scope, TokenInput};
use crate::store::Op;

impl From<AccessError> for EngineError {
    fn from(e: AccessError) -> Self {
        EngineError::Access(e)
    }
}

impl Engine {
    /// Creates a key (as narrow as its creator at most). Returns the listed record and the
    /// key string, which is shown only now.
    pub fn create_key(&self, input: KeyInput, creator: &Scope) -> Result<(Value, String)> {
        let (record, key) = access::new_key(input, creator, &crate::model::fmt_time(&Utc::now()))?;
        let raw = serde_json::to_vec(&record).unwrap_or_default();
        let id = record.id.clone();
        let ((), seq) = self.store.commit::<_, EngineError>(|_| {
            Ok((
                vec![Op::ApiKey {
                    id: id.clone(),
                    record: Some(raw),
                }],
                (),
            ))
        })?;
        self.store.wait_durable(seq)?;
        Ok((record.public(), key))
    }

    /// Every key, without secrets or hashes.
    pub fn list_keys(&self) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for raw in self.store.api_keys()? {
            if let Ok(r) = serde_json::from_slice::<KeyRecord>(&raw) {
                out.push(r.public());
            }
        }
        Ok(out)
    }

    /// Revokes a key; tokens derived from it die with it.
    pub fn revoke_key(&self, id: &str) -> Result<()> {
        if self.store.api_key(id)?.is_none() {
            return Err(EngineError::NotFound(format!("key {id:?} does not exist")));
        }
        let ((), seq) = self.store.commit::<_, EngineError>(|_| {
            Ok((
                vec![Op::ApiKey {
                    id: id.into(),
                    record: None,
                }],
                (),
            ))
        })?;
        self.store.wait_durable(seq)?;
        Ok(())
    }

    fn key_record(&self, id: &str) -> Result<Option<KeyRecord>> {
        Ok(self
            .store
            .api_key(id)?
            .and_then(|raw| serde_json::from_slice::<KeyRecord>(&raw).ok()))
    }

    /// The scope of a presented key or token (not the master key: the edge checks that).
    /// `master_configured`: tokens minted by the master key (or with no auth configured)
    /// are honoured only while that is still how the service runs.
    pub fn authenticate(&self, credential: &str, master_configured: bool) -> Result<Scope> {
        if let Some((id, secret)) = access::parse_key(credential) {
            return match self.key_record(id)? {
                Some(r) if access::key_matches(&r, secret) => Ok(r.scope()),
                _ => Err(AccessError::Unauthenticated("the key is not valid (or was revoked)".into()).into()),
            };
        }
        if credential.starts_with("cdxt_") {
            let claims = access::verify_token(credential, &self.store.token_secret()?, Utc::now().timestamp())?;
            let parent = match claims.kid.as_str() {
                "master" if master_configured => Scope::full("master"),
                "open" if !master_configured => Scope::full("open"),
                "master" | "open" => {
                    return Err(AccessError::Unauthenticated("the token's parent credential is gone".into()).into())
                }
                id => match self.key_record(id)? {
                    Some(r) => r.scope(),
                    None => {
                        return Err(AccessError::Unauthenticated("the token's parent key was revoked".into()).into())
                    }
                },
            };
            return Ok(access::token_scope(&claims, &parent));
        }
        Err(AccessError::Unauthenticated("the bearer credential is not valid".into()).into())
    }

    /// Derives an agent token from the caller's credential.
    pub fn create_token(&self, input: TokenInput, parent: &Scope) -> Result<(String, Value)> {
        let parent_id = match parent.principal.as_str() {
            "master" => "master".to_string(),
            "open" => "open".to_string(),
            p => match p.strip_prefix("key:") {
                Some(id) => id.to_string(),
                None => return Err(AccessError::Forbidden("an agent token cannot create tokens".into()).into()),
            },
        };
        let claims = access::new_token(input, parent, &parent_id, Utc::now().timestamp())?;
        let token = access::sign_token(&claims, &self.store.token_secret()?);
        Ok((token, serde_json::to_value(&claims).unwrap_or(Value::Null)))
    }
}
