//! Published ingress ports: unique cluster-wide per protocol, with a
//! dynamic range for services that publish port 0.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use shoal_model::spec::{PortConfig, Protocol, PublishMode};

use super::AllocatorError;

/// First port of the dynamic range (Swarm's).
pub const DYNAMIC_PORT_FIRST: u16 = 30000;
/// Last port of the dynamic range (Swarm's).
pub const DYNAMIC_PORT_LAST: u16 = 32767;

/// Who holds a published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortHolder {
    /// The service.
    pub service_id: String,
    /// The target port it forwards to.
    pub target: u16,
    /// Whether the allocator picked it (the service asked for 0).
    pub dynamic: bool,
}

/// Every ingress port in use, per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortTable {
    /// TCP port → holder.
    #[serde(default)]
    pub tcp: BTreeMap<u16, PortHolder>,
    /// UDP port → holder.
    #[serde(default)]
    pub udp: BTreeMap<u16, PortHolder>,
}

impl PortTable {
    fn table(&self, protocol: Protocol) -> &BTreeMap<u16, PortHolder> {
        match protocol {
            Protocol::Tcp => &self.tcp,
            Protocol::Udp => &self.udp,
        }
    }

    fn table_mut(&mut self, protocol: Protocol) -> &mut BTreeMap<u16, PortHolder> {
        match protocol {
            Protocol::Tcp => &mut self.tcp,
            Protocol::Udp => &mut self.udp,
        }
    }

    /// Gives `service_id` exactly the ingress ports of `requested` (ports it
    /// held before and no longer asks for are released), all or nothing.
    /// Port 0 gets a dynamic port, the one it already had for the same
    /// target if any. Host-mode ports pass through untouched. Returns the
    /// request with the published ports filled in.
    pub fn allocate(
        &mut self,
        service_id: &str,
        requested: &[PortConfig],
    ) -> Result<Vec<PortConfig>, AllocatorError> {
        let mut chosen: BTreeSet<(Protocol, u16)> = BTreeSet::new();
        let ingress = |port: &&PortConfig| port.mode == PublishMode::Ingress;
        for port in requested
            .iter()
            .filter(ingress)
            .filter(|p| p.published != 0)
        {
            let key = (port.protocol, port.published);
            if !chosen.insert(key) {
                return Err(AllocatorError::DuplicatePort {
                    port: port.published,
                    protocol: port.protocol,
                });
            }
            if let Some(holder) = self.table(port.protocol).get(&port.published)
                && holder.service_id != service_id
            {
                return Err(AllocatorError::PortInUse {
                    port: port.published,
                    protocol: port.protocol,
                    service_id: holder.service_id.clone(),
                });
            }
        }
        let mut result = requested.to_vec();
        let mut search = DynamicSearch::new(self, service_id);
        for port in result.iter_mut().filter(|p| p.mode == PublishMode::Ingress) {
            if port.published == 0 {
                port.published = search.next(self, service_id, port, &chosen)?;
                chosen.insert((port.protocol, port.published));
            }
        }
        self.release(service_id);
        for (port, asked) in result.iter().zip(requested).filter(|(p, _)| ingress(p)) {
            let holder = PortHolder {
                service_id: service_id.to_owned(),
                target: port.target,
                dynamic: asked.published == 0,
            };
            self.table_mut(port.protocol).insert(port.published, holder);
        }
        Ok(result)
    }

    /// Releases every port `service_id` holds.
    pub fn release(&mut self, service_id: &str) {
        self.tcp.retain(|_, holder| holder.service_id != service_id);
        self.udp.retain(|_, holder| holder.service_id != service_id);
    }
}

/// Finds dynamic ports for one request: ports the service already had for
/// the same target first, then the lowest port no other service holds.
/// Candidates only move upwards within a request, so a request of `n`
/// dynamic ports costs O(n log n), not O(n²).
struct DynamicSearch {
    /// (protocol, target) → dynamic ports the service held for it.
    kept: HashMap<(Protocol, u16), Vec<u16>>,
    /// Next candidate per protocol (TCP, UDP).
    cursor: [u32; 2],
}

impl DynamicSearch {
    fn new(table: &PortTable, service_id: &str) -> DynamicSearch {
        let mut kept: HashMap<(Protocol, u16), Vec<u16>> = HashMap::new();
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            for (number, holder) in table.table(protocol) {
                if holder.service_id == service_id && holder.dynamic {
                    kept.entry((protocol, holder.target))
                        .or_default()
                        .push(*number);
                }
            }
        }
        DynamicSearch {
            kept,
            cursor: [u32::from(DYNAMIC_PORT_FIRST); 2],
        }
    }

    fn next(
        &mut self,
        table: &PortTable,
        service_id: &str,
        port: &PortConfig,
        chosen: &BTreeSet<(Protocol, u16)>,
    ) -> Result<u16, AllocatorError> {
        let free = |number: u16| !chosen.contains(&(port.protocol, number));
        if let Some(ports) = self.kept.get_mut(&(port.protocol, port.target))
            && let Some(at) = ports.iter().position(|n| free(*n))
        {
            return Ok(ports.swap_remove(at));
        }
        let holders = table.table(port.protocol);
        let cursor = &mut self.cursor[port.protocol as usize];
        while *cursor <= u32::from(DYNAMIC_PORT_LAST) {
            let number = u16::try_from(*cursor).unwrap_or(DYNAMIC_PORT_LAST);
            *cursor += 1;
            // The service's own fixed ports are released by this request;
            // its dynamic ones stay reserved for their targets.
            let unheld = holders
                .get(&number)
                .is_none_or(|h| h.service_id == service_id && !h.dynamic);
            if free(number) && unheld {
                return Ok(number);
            }
        }
        Err(AllocatorError::DynamicPortsExhausted {
            protocol: port.protocol,
            first: DYNAMIC_PORT_FIRST,
            last: DYNAMIC_PORT_LAST,
        })
    }
}
