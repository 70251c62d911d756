"""The `$metadata` document: a small EDMX describing only what the simulator serves."""

from __future__ import annotations

from exporter.simulator.odata_filter import EdmType
from exporter.simulator.v2_entities import JOBS, MODEL_NAMESPACE, TASKS, EntitySet

CONTENT_TYPE = "application/xml;charset=utf-8"
_REQUIRED = frozenset({"Id", "Created", "LastModified"})


def _entity_type(entity_set: EntitySet) -> str:
    name = entity_set.type_name.rsplit(".", 1)[1]
    lines = [f'      <EntityType Name="{name}">', '        <Key><PropertyRef Name="Id" /></Key>']
    for field in entity_set.fields:
        if field in entity_set.collections:
            edm, nullable = f"Collection({entity_set.collections[field]})", "false"
        else:
            kind = entity_set.types[field]
            edm = kind.value
            required = field in _REQUIRED or kind in (EdmType.INT, EdmType.DOUBLE)
            nullable = "false" if required else "true"
        lines.append(f'        <Property Name="{field}" Type="{edm}" Nullable="{nullable}" />')
    lines.append("      </EntityType>")
    return "\n".join(lines)


def _complex_type(name: str, properties: tuple[str, ...]) -> str:
    body = "\n".join(f'        <Property Name="{p}" Type="Edm.String" />' for p in properties)
    return f'      <ComplexType Name="{name}">\n{body}\n      </ComplexType>'


def metadata_document() -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx">',
        '  <edmx:DataServices m:DataServiceVersion="3.0" m:MaxDataServiceVersion="3.0"'
        ' xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">',
        f'    <Schema Namespace="{MODEL_NAMESPACE}"'
        ' xmlns="http://schemas.microsoft.com/ado/2009/11/edm">',
        _entity_type(JOBS),
        _entity_type(TASKS),
        _complex_type("ErrorDetail", ("Code", "Message")),
        _complex_type("TaskHistoricalEvent", ("Code", "Message", "TimeStamp")),
        _complex_type("JobNotificationSubscription", ("NotificationEndPointId", "TargetJobState")),
        '      <EntityContainer Name="MediaContext" m:IsDefaultEntityContainer="true">',
        f'        <EntitySet Name="Jobs" EntityType="{JOBS.type_name}" />',
        f'        <EntitySet Name="Tasks" EntityType="{TASKS.type_name}" />',
        "      </EntityContainer>",
        "    </Schema>",
        "  </edmx:DataServices>",
        "</edmx:Edmx>",
        "",
    ]
    return "\n".join(parts).encode("utf-8")
