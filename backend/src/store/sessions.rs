//! One tower-sessions store type over every backend, so the session layer
//! does not change shape with the storage URL.

use async_trait::async_trait;
use std::sync::Arc;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{Result, SessionStore};

#[derive(Debug, Clone)]
pub struct Sessions(Arc<dyn SessionStore>);

impl Sessions {
    pub fn new(s: impl SessionStore) -> Self {
        Self(Arc::new(s))
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> Result<()> {
        self.0.create(record).await
    }
    async fn save(&self, record: &Record) -> Result<()> {
        self.0.save(record).await
    }
    async fn load(&self, id: &Id) -> Result<Option<Record>> {
        self.0.load(id).await
    }
    async fn delete(&self, id: &Id) -> Result<()> {
        self.0.delete(id).await
    }
}
