//! Argo CD notifications (notifications-engine, as Argo CD configures it).
