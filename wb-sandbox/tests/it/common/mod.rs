//! Shared helpers: a sandbox on a free port and a client that speaks to it like a WB client.
#![allow(dead_code)]

use std::time::Duration;

use reqwest::{Client, Response};
use serde_json::Value;
use wb_sandbox::{RunningSandbox, SandboxConfig, TokenOptions, mint_token};

pub struct Sandbox {
    pub running: RunningSandbox,
    pub client: Client,
}

/// Limits off and no automatic ticks, so only the test moves the simulation.
pub fn quiet_config() -> SandboxConfig {
    SandboxConfig {
        rate_limit_scale: 0.0,
        drain_every: Duration::ZERO,
        ..SandboxConfig::default()
    }
}

pub async fn start(cfg: SandboxConfig) -> Sandbox {
    Sandbox {
        running: wb_sandbox::spawn(cfg).await.expect("sandbox starts"),
        client: Client::new(),
    }
}

pub fn demo_token(seller_id: i64) -> String {
    mint_token(&TokenOptions::demo(seller_id))
}

impl Sandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url)
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .header("Authorization", token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .header("Authorization", token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn advance(&self, seller_id: i64, ticks: u64) -> Value {
        self.client
            .post(self.url("/__sandbox/advance"))
            .json(&serde_json::json!({"seller_id": seller_id, "ticks": ticks}))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("state json")
    }

    pub async fn tick(&self, seller_id: i64) -> u64 {
        let state: Value = self
            .client
            .get(self.url(&format!("/__sandbox/state?seller_id={seller_id}")))
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("state json");
        state["tick"].as_u64().expect("tick")
    }
}

pub async fn json(resp: Response) -> Value {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}, not JSON ({e}): {text}"))
}
