//! ISO country and currency codes as Shopify's `CountryCode` and `CurrencyCode` enums.
//! Generated from tests/data/shopify/admin_schema_2026-04.graphql.gz (every value, in order)
//! by crates/mapsync-sandbox/tests/codes_generated.rs; do not edit by hand, regenerate with
//! `MAPSYNC_REGENERATE=1 cargo test -p mapsync-sandbox --test codes_generated`.
//! Owns nothing else and must not hold business rules.

use async_graphql::Enum;

/// Shopify's `CountryCode` enum (all 245 values of API 2026-04).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "CountryCode")]
pub enum CountryCode {
    #[graphql(name = "AF")]
    Af,
    #[graphql(name = "AX")]
    Ax,
    #[graphql(name = "AL")]
    Al,
    #[graphql(name = "DZ")]
    Dz,
    #[graphql(name = "AD")]
    Ad,
    #[graphql(name = "AO")]
    Ao,
    #[graphql(name = "AI")]
    Ai,
    #[graphql(name = "AG")]
    Ag,
    #[graphql(name = "AR")]
    Ar,
    #[graphql(name = "AM")]
    Am,
    #[graphql(name = "AW")]
    Aw,
    #[graphql(name = "AC")]
    Ac,
    #[graphql(name = "AU")]
    Au,
    #[graphql(name = "AT")]
    At,
    #[graphql(name = "AZ")]
    Az,
    #[graphql(name = "BS")]
    Bs,
    #[graphql(name = "BH")]
    Bh,
    #[graphql(name = "BD")]
    Bd,
    #[graphql(name = "BB")]
    Bb,
    #[graphql(name = "BY")]
    By,
    #[graphql(name = "BE")]
    Be,
    #[graphql(name = "BZ")]
    Bz,
    #[graphql(name = "BJ")]
    Bj,
    #[graphql(name = "BM")]
    Bm,
    #[graphql(name = "BT")]
    Bt,
    #[graphql(name = "BO")]
    Bo,
    #[graphql(name = "BA")]
    Ba,
    #[graphql(name = "BW")]
    Bw,
    #[graphql(name = "BV")]
    Bv,
    #[graphql(name = "BR")]
    Br,
    #[graphql(name = "IO")]
    Io,
    #[graphql(name = "BN")]
    Bn,
    #[graphql(name = "BG")]
    Bg,
    #[graphql(name = "BF")]
    Bf,
    #[graphql(name = "BI")]
    Bi,
    #[graphql(name = "KH")]
    Kh,
    #[graphql(name = "CA")]
    Ca,
    #[graphql(name = "CV")]
    Cv,
    #[graphql(name = "BQ")]
    Bq,
    #[graphql(name = "KY")]
    Ky,
    #[graphql(name = "CF")]
    Cf,
    #[graphql(name = "TD")]
    Td,
    #[graphql(name = "CL")]
    Cl,
    #[graphql(name = "CN")]
    Cn,
    #[graphql(name = "CX")]
    Cx,
    #[graphql(name = "CC")]
    Cc,
    #[graphql(name = "CO")]
    Co,
    #[graphql(name = "KM")]
    Km,
    #[graphql(name = "CG")]
    Cg,
    #[graphql(name = "CD")]
    Cd,
    #[graphql(name = "CK")]
    Ck,
    #[graphql(name = "CR")]
    Cr,
    #[graphql(name = "HR")]
    Hr,
    #[graphql(name = "CU")]
    Cu,
    #[graphql(name = "CW")]
    Cw,
    #[graphql(name = "CY")]
    Cy,
    #[graphql(name = "CZ")]
    Cz,
    #[graphql(name = "CI")]
    Ci,
    #[graphql(name = "DK")]
    Dk,
    #[graphql(name = "DJ")]
    Dj,
    #[graphql(name = "DM")]
    Dm,
    #[graphql(name = "DO")]
    Do,
    #[graphql(name = "EC")]
    Ec,
    #[graphql(name = "EG")]
    Eg,
    #[graphql(name = "SV")]
    Sv,
    #[graphql(name = "GQ")]
    Gq,
    #[graphql(name = "ER")]
    Er,
    #[graphql(name = "EE")]
    Ee,
    #[graphql(name = "SZ")]
    Sz,
    #[graphql(name = "ET")]
    Et,
    #[graphql(name = "FK")]
    Fk,
    #[graphql(name = "FO")]
    Fo,
    #[graphql(name = "FJ")]
    Fj,
    #[graphql(name = "FI")]
    Fi,
    #[graphql(name = "FR")]
    Fr,
    #[graphql(name = "GF")]
    Gf,
    #[graphql(name = "PF")]
    Pf,
    #[graphql(name = "TF")]
    Tf,
    #[graphql(name = "GA")]
    Ga,
    #[graphql(name = "GM")]
    Gm,
    #[graphql(name = "GE")]
    Ge,
    #[graphql(name = "DE")]
    De,
    #[graphql(name = "GH")]
    Gh,
    #[graphql(name = "GI")]
    Gi,
    #[graphql(name = "GR")]
    Gr,
    #[graphql(name = "GL")]
    Gl,
    #[graphql(name = "GD")]
    Gd,
    #[graphql(name = "GP")]
    Gp,
    #[graphql(name = "GT")]
    Gt,
    #[graphql(name = "GG")]
    Gg,
    #[graphql(name = "GN")]
    Gn,
    #[graphql(name = "GW")]
    Gw,
    #[graphql(name = "GY")]
    Gy,
    #[graphql(name = "HT")]
    Ht,
    #[graphql(name = "HM")]
    Hm,
    #[graphql(name = "VA")]
    Va,
    #[graphql(name = "HN")]
    Hn,
    #[graphql(name = "HK")]
    Hk,
    #[graphql(name = "HU")]
    Hu,
    #[graphql(name = "IS")]
    Is,
    #[graphql(name = "IN")]
    In,
    #[graphql(name = "ID")]
    Id,
    #[graphql(name = "IR")]
    Ir,
    #[graphql(name = "IQ")]
    Iq,
    #[graphql(name = "IE")]
    Ie,
    #[graphql(name = "IM")]
    Im,
    #[graphql(name = "IL")]
    Il,
    #[graphql(name = "IT")]
    It,
    #[graphql(name = "JM")]
    Jm,
    #[graphql(name = "JP")]
    Jp,
    #[graphql(name = "JE")]
    Je,
    #[graphql(name = "JO")]
    Jo,
    #[graphql(name = "KZ")]
    Kz,
    #[graphql(name = "KE")]
    Ke,
    #[graphql(name = "KI")]
    Ki,
    #[graphql(name = "KP")]
    Kp,
    #[graphql(name = "XK")]
    Xk,
    #[graphql(name = "KW")]
    Kw,
    #[graphql(name = "KG")]
    Kg,
    #[graphql(name = "LA")]
    La,
    #[graphql(name = "LV")]
    Lv,
    #[graphql(name = "LB")]
    Lb,
    #[graphql(name = "LS")]
    Ls,
    #[graphql(name = "LR")]
    Lr,
    #[graphql(name = "LY")]
    Ly,
    #[graphql(name = "LI")]
    Li,
    #[graphql(name = "LT")]
    Lt,
    #[graphql(name = "LU")]
    Lu,
    #[graphql(name = "MO")]
    Mo,
    #[graphql(name = "MG")]
    Mg,
    #[graphql(name = "MW")]
    Mw,
    #[graphql(name = "MY")]
    My,
    #[graphql(name = "MV")]
    Mv,
    #[graphql(name = "ML")]
    Ml,
    #[graphql(name = "MT")]
    Mt,
    #[graphql(name = "MQ")]
    Mq,
    #[graphql(name = "MR")]
    Mr,
    #[graphql(name = "MU")]
    Mu,
    #[graphql(name = "YT")]
    Yt,
    #[graphql(name = "MX")]
    Mx,
    #[graphql(name = "MD")]
    Md,
    #[graphql(name = "MC")]
    Mc,
    #[graphql(name = "MN")]
    Mn,
    #[graphql(name = "ME")]
    Me,
    #[graphql(name = "MS")]
    Ms,
    #[graphql(name = "MA")]
    Ma,
    #[graphql(name = "MZ")]
    Mz,
    #[graphql(name = "MM")]
    Mm,
    #[graphql(name = "NA")]
    Na,
    #[graphql(name = "NR")]
    Nr,
    #[graphql(name = "NP")]
    Np,
    #[graphql(name = "NL")]
    Nl,
    #[graphql(name = "AN")]
    An,
    #[graphql(name = "NC")]
    Nc,
    #[graphql(name = "NZ")]
    Nz,
    #[graphql(name = "NI")]
    Ni,
    #[graphql(name = "NE")]
    Ne,
    #[graphql(name = "NG")]
    Ng,
    #[graphql(name = "NU")]
    Nu,
    #[graphql(name = "NF")]
    Nf,
    #[graphql(name = "MK")]
    Mk,
    #[graphql(name = "NO")]
    No,
    #[graphql(name = "OM")]
    Om,
    #[graphql(name = "PK")]
    Pk,
    #[graphql(name = "PS")]
    Ps,
    #[graphql(name = "PA")]
    Pa,
    #[graphql(name = "PG")]
    Pg,
    #[graphql(name = "PY")]
    Py,
    #[graphql(name = "PE")]
    Pe,
    #[graphql(name = "PH")]
    Ph,
    #[graphql(name = "PN")]
    Pn,
    #[graphql(name = "PL")]
    Pl,
    #[graphql(name = "PT")]
    Pt,
    #[graphql(name = "QA")]
    Qa,
    #[graphql(name = "CM")]
    Cm,
    #[graphql(name = "RE")]
    Re,
    #[graphql(name = "RO")]
    Ro,
    #[graphql(name = "RU")]
    Ru,
    #[graphql(name = "RW")]
    Rw,
    #[graphql(name = "BL")]
    Bl,
    #[graphql(name = "SH")]
    Sh,
    #[graphql(name = "KN")]
    Kn,
    #[graphql(name = "LC")]
    Lc,
    #[graphql(name = "MF")]
    Mf,
    #[graphql(name = "PM")]
    Pm,
    #[graphql(name = "WS")]
    Ws,
    #[graphql(name = "SM")]
    Sm,
    #[graphql(name = "ST")]
    St,
    #[graphql(name = "SA")]
    Sa,
    #[graphql(name = "SN")]
    Sn,
    #[graphql(name = "RS")]
    Rs,
    #[graphql(name = "SC")]
    Sc,
    #[graphql(name = "SL")]
    Sl,
    #[graphql(name = "SG")]
    Sg,
    #[graphql(name = "SX")]
    Sx,
    #[graphql(name = "SK")]
    Sk,
    #[graphql(name = "SI")]
    Si,
    #[graphql(name = "SB")]
    Sb,
    #[graphql(name = "SO")]
    So,
    #[graphql(name = "ZA")]
    Za,
    #[graphql(name = "GS")]
    Gs,
    #[graphql(name = "KR")]
    Kr,
    #[graphql(name = "SS")]
    Ss,
    #[graphql(name = "ES")]
    Es,
    #[graphql(name = "LK")]
    Lk,
    #[graphql(name = "VC")]
    Vc,
    #[graphql(name = "SD")]
    Sd,
    #[graphql(name = "SR")]
    Sr,
    #[graphql(name = "SJ")]
    Sj,
    #[graphql(name = "SE")]
    Se,
    #[graphql(name = "CH")]
    Ch,
    #[graphql(name = "SY")]
    Sy,
    #[graphql(name = "TW")]
    Tw,
    #[graphql(name = "TJ")]
    Tj,
    #[graphql(name = "TZ")]
    Tz,
    #[graphql(name = "TH")]
    Th,
    #[graphql(name = "TL")]
    Tl,
    #[graphql(name = "TG")]
    Tg,
    #[graphql(name = "TK")]
    Tk,
    #[graphql(name = "TO")]
    To,
    #[graphql(name = "TT")]
    Tt,
    #[graphql(name = "TA")]
    Ta,
    #[graphql(name = "TN")]
    Tn,
    #[graphql(name = "TR")]
    Tr,
    #[graphql(name = "TM")]
    Tm,
    #[graphql(name = "TC")]
    Tc,
    #[graphql(name = "TV")]
    Tv,
    #[graphql(name = "UG")]
    Ug,
    #[graphql(name = "UA")]
    Ua,
    #[graphql(name = "AE")]
    Ae,
    #[graphql(name = "GB")]
    Gb,
    #[graphql(name = "US")]
    Us,
    #[graphql(name = "UM")]
    Um,
    #[graphql(name = "UY")]
    Uy,
    #[graphql(name = "UZ")]
    Uz,
    #[graphql(name = "VU")]
    Vu,
    #[graphql(name = "VE")]
    Ve,
    #[graphql(name = "VN")]
    Vn,
    #[graphql(name = "VG")]
    Vg,
    #[graphql(name = "WF")]
    Wf,
    #[graphql(name = "EH")]
    Eh,
    #[graphql(name = "YE")]
    Ye,
    #[graphql(name = "ZM")]
    Zm,
    #[graphql(name = "ZW")]
    Zw,
    #[graphql(name = "ZZ")]
    Zz,
}

impl CountryCode {
    /// The code as Shopify spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Af => "AF",
            Self::Ax => "AX",
            Self::Al => "AL",
            Self::Dz => "DZ",
            Self::Ad => "AD",
            Self::Ao => "AO",
            Self::Ai => "AI",
            Self::Ag => "AG",
            Self::Ar => "AR",
            Self::Am => "AM",
            Self::Aw => "AW",
            Self::Ac => "AC",
            Self::Au => "AU",
            Self::At => "AT",
            Self::Az => "AZ",
            Self::Bs => "BS",
            Self::Bh => "BH",
            Self::Bd => "BD",
            Self::Bb => "BB",
            Self::By => "BY",
            Self::Be => "BE",
            Self::Bz => "BZ",
            Self::Bj => "BJ",
            Self::Bm => "BM",
            Self::Bt => "BT",
            Self::Bo => "BO",
            Self::Ba => "BA",
            Self::Bw => "BW",
            Self::Bv => "BV",
            Self::Br => "BR",
            Self::Io => "IO",
            Self::Bn => "BN",
            Self::Bg => "BG",
            Self::Bf => "BF",
            Self::Bi => "BI",
            Self::Kh => "KH",
            Self::Ca => "CA",
            Self::Cv => "CV",
            Self::Bq => "BQ",
            Self::Ky => "KY",
            Self::Cf => "CF",
            Self::Td => "TD",
            Self::Cl => "CL",
            Self::Cn => "CN",
            Self::Cx => "CX",
            Self::Cc => "CC",
            Self::Co => "CO",
            Self::Km => "KM",
            Self::Cg => "CG",
            Self::Cd => "CD",
            Self::Ck => "CK",
            Self::Cr => "CR",
            Self::Hr => "HR",
            Self::Cu => "CU",
            Self::Cw => "CW",
            Self::Cy => "CY",
            Self::Cz => "CZ",
            Self::Ci => "CI",
            Self::Dk => "DK",
            Self::Dj => "DJ",
            Self::Dm => "DM",
            Self::Do => "DO",
            Self::Ec => "EC",
            Self::Eg => "EG",
            Self::Sv => "SV",
            Self::Gq => "GQ",
            Self::Er => "ER",
            Self::Ee => "EE",
            Self::Sz => "SZ",
            Self::Et => "ET",
            Self::Fk => "FK",
            Self::Fo => "FO",
            Self::Fj => "FJ",
            Self::Fi => "FI",
            Self::Fr => "FR",
            Self::Gf => "GF",
            Self::Pf => "PF",
            Self::Tf => "TF",
            Self::Ga => "GA",
            Self::Gm => "GM",
            Self::Ge => "GE",
            Self::De => "DE",
            Self::Gh => "GH",
            Self::Gi => "GI",
            Self::Gr => "GR",
            Self::Gl => "GL",
            Self::Gd => "GD",
            Self::Gp => "GP",
            Self::Gt => "GT",
            Self::Gg => "GG",
            Self::Gn => "GN",
            Self::Gw => "GW",
            Self::Gy => "GY",
            Self::Ht => "HT",
            Self::Hm => "HM",
            Self::Va => "VA",
            Self::Hn => "HN",
            Self::Hk => "HK",
            Self::Hu => "HU",
            Self::Is => "IS",
            Self::In => "IN",
            Self::Id => "ID",
            Self::Ir => "IR",
            Self::Iq => "IQ",
            Self::Ie => "IE",
            Self::Im => "IM",
            Self::Il => "IL",
            Self::It => "IT",
            Self::Jm => "JM",
            Self::Jp => "JP",
            Self::Je => "JE",
            Self::Jo => "JO",
            Self::Kz => "KZ",
            Self::Ke => "KE",
            Self::Ki => "KI",
            Self::Kp => "KP",
            Self::Xk => "XK",
            Self::Kw => "KW",
            Self::Kg => "KG",
            Self::La => "LA",
            Self::Lv => "LV",
            Self::Lb => "LB",
            Self::Ls => "LS",
            Self::Lr => "LR",
            Self::Ly => "LY",
            Self::Li => "LI",
            Self::Lt => "LT",
            Self::Lu => "LU",
            Self::Mo => "MO",
            Self::Mg => "MG",
            Self::Mw => "MW",
            Self::My => "MY",
            Self::Mv => "MV",
            Self::Ml => "ML",
            Self::Mt => "MT",
            Self::Mq => "MQ",
            Self::Mr => "MR",
            Self::Mu => "MU",
            Self::Yt => "YT",
            Self::Mx => "MX",
            Self::Md => "MD",
            Self::Mc => "MC",
            Self::Mn => "MN",
            Self::Me => "ME",
            Self::Ms => "MS",
            Self::Ma => "MA",
            Self::Mz => "MZ",
            Self::Mm => "MM",
            Self::Na => "NA",
            Self::Nr => "NR",
            Self::Np => "NP",
            Self::Nl => "NL",
            Self::An => "AN",
            Self::Nc => "NC",
            Self::Nz => "NZ",
            Self::Ni => "NI",
            Self::Ne => "NE",
            Self::Ng => "NG",
            Self::Nu => "NU",
            Self::Nf => "NF",
            Self::Mk => "MK",
            Self::No => "NO",
            Self::Om => "OM",
            Self::Pk => "PK",
            Self::Ps => "PS",
            Self::Pa => "PA",
            Self::Pg => "PG",
            Self::Py => "PY",
            Self::Pe => "PE",
            Self::Ph => "PH",
            Self::Pn => "PN",
            Self::Pl => "PL",
            Self::Pt => "PT",
            Self::Qa => "QA",
            Self::Cm => "CM",
            Self::Re => "RE",
            Self::Ro => "RO",
            Self::Ru => "RU",
            Self::Rw => "RW",
            Self::Bl => "BL",
            Self::Sh => "SH",
            Self::Kn => "KN",
            Self::Lc => "LC",
            Self::Mf => "MF",
            Self::Pm => "PM",
            Self::Ws => "WS",
            Self::Sm => "SM",
            Self::St => "ST",
            Self::Sa => "SA",
            Self::Sn => "SN",
            Self::Rs => "RS",
            Self::Sc => "SC",
            Self::Sl => "SL",
            Self::Sg => "SG",
            Self::Sx => "SX",
            Self::Sk => "SK",
            Self::Si => "SI",
            Self::Sb => "SB",
            Self::So => "SO",
            Self::Za => "ZA",
            Self::Gs => "GS",
            Self::Kr => "KR",
            Self::Ss => "SS",
            Self::Es => "ES",
            Self::Lk => "LK",
            Self::Vc => "VC",
            Self::Sd => "SD",
            Self::Sr => "SR",
            Self::Sj => "SJ",
            Self::Se => "SE",
            Self::Ch => "CH",
            Self::Sy => "SY",
            Self::Tw => "TW",
            Self::Tj => "TJ",
            Self::Tz => "TZ",
            Self::Th => "TH",
            Self::Tl => "TL",
            Self::Tg => "TG",
            Self::Tk => "TK",
            Self::To => "TO",
            Self::Tt => "TT",
            Self::Ta => "TA",
            Self::Tn => "TN",
            Self::Tr => "TR",
            Self::Tm => "TM",
            Self::Tc => "TC",
            Self::Tv => "TV",
            Self::Ug => "UG",
            Self::Ua => "UA",
            Self::Ae => "AE",
            Self::Gb => "GB",
            Self::Us => "US",
            Self::Um => "UM",
            Self::Uy => "UY",
            Self::Uz => "UZ",
            Self::Vu => "VU",
            Self::Ve => "VE",
            Self::Vn => "VN",
            Self::Vg => "VG",
            Self::Wf => "WF",
            Self::Eh => "EH",
            Self::Ye => "YE",
            Self::Zm => "ZM",
            Self::Zw => "ZW",
            Self::Zz => "ZZ",
        }
    }

    /// Parse a code as Shopify spells it.
    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "AF" => Self::Af,
            "AX" => Self::Ax,
            "AL" => Self::Al,
            "DZ" => Self::Dz,
            "AD" => Self::Ad,
            "AO" => Self::Ao,
            "AI" => Self::Ai,
            "AG" => Self::Ag,
            "AR" => Self::Ar,
            "AM" => Self::Am,
            "AW" => Self::Aw,
            "AC" => Self::Ac,
            "AU" => Self::Au,
            "AT" => Self::At,
            "AZ" => Self::Az,
            "BS" => Self::Bs,
            "BH" => Self::Bh,
            "BD" => Self::Bd,
            "BB" => Self::Bb,
            "BY" => Self::By,
            "BE" => Self::Be,
            "BZ" => Self::Bz,
            "BJ" => Self::Bj,
            "BM" => Self::Bm,
            "BT" => Self::Bt,
            "BO" => Self::Bo,
            "BA" => Self::Ba,
            "BW" => Self::Bw,
            "BV" => Self::Bv,
            "BR" => Self::Br,
            "IO" => Self::Io,
            "BN" => Self::Bn,
            "BG" => Self::Bg,
            "BF" => Self::Bf,
            "BI" => Self::Bi,
            "KH" => Self::Kh,
            "CA" => Self::Ca,
            "CV" => Self::Cv,
            "BQ" => Self::Bq,
            "KY" => Self::Ky,
            "CF" => Self::Cf,
            "TD" => Self::Td,
            "CL" => Self::Cl,
            "CN" => Self::Cn,
            "CX" => Self::Cx,
            "CC" => Self::Cc,
            "CO" => Self::Co,
            "KM" => Self::Km,
            "CG" => Self::Cg,
            "CD" => Self::Cd,
            "CK" => Self::Ck,
            "CR" => Self::Cr,
            "HR" => Self::Hr,
            "CU" => Self::Cu,
            "CW" => Self::Cw,
            "CY" => Self::Cy,
            "CZ" => Self::Cz,
            "CI" => Self::Ci,
            "DK" => Self::Dk,
            "DJ" => Self::Dj,
            "DM" => Self::Dm,
            "DO" => Self::Do,
            "EC" => Self::Ec,
            "EG" => Self::Eg,
            "SV" => Self::Sv,
            "GQ" => Self::Gq,
            "ER" => Self::Er,
            "EE" => Self::Ee,
            "SZ" => Self::Sz,
            "ET" => Self::Et,
            "FK" => Self::Fk,
            "FO" => Self::Fo,
            "FJ" => Self::Fj,
            "FI" => Self::Fi,
            "FR" => Self::Fr,
            "GF" => Self::Gf,
            "PF" => Self::Pf,
            "TF" => Self::Tf,
            "GA" => Self::Ga,
            "GM" => Self::Gm,
            "GE" => Self::Ge,
            "DE" => Self::De,
            "GH" => Self::Gh,
            "GI" => Self::Gi,
            "GR" => Self::Gr,
            "GL" => Self::Gl,
            "GD" => Self::Gd,
            "GP" => Self::Gp,
            "GT" => Self::Gt,
            "GG" => Self::Gg,
            "GN" => Self::Gn,
            "GW" => Self::Gw,
            "GY" => Self::Gy,
            "HT" => Self::Ht,
            "HM" => Self::Hm,
            "VA" => Self::Va,
            "HN" => Self::Hn,
            "HK" => Self::Hk,
            "HU" => Self::Hu,
            "IS" => Self::Is,
            "IN" => Self::In,
            "ID" => Self::Id,
            "IR" => Self::Ir,
            "IQ" => Self::Iq,
            "IE" => Self::Ie,
            "IM" => Self::Im,
            "IL" => Self::Il,
            "IT" => Self::It,
            "JM" => Self::Jm,
            "JP" => Self::Jp,
            "JE" => Self::Je,
            "JO" => Self::Jo,
            "KZ" => Self::Kz,
            "KE" => Self::Ke,
            "KI" => Self::Ki,
            "KP" => Self::Kp,
            "XK" => Self::Xk,
            "KW" => Self::Kw,
            "KG" => Self::Kg,
            "LA" => Self::La,
            "LV" => Self::Lv,
            "LB" => Self::Lb,
            "LS" => Self::Ls,
            "LR" => Self::Lr,
            "LY" => Self::Ly,
            "LI" => Self::Li,
            "LT" => Self::Lt,
            "LU" => Self::Lu,
            "MO" => Self::Mo,
            "MG" => Self::Mg,
            "MW" => Self::Mw,
            "MY" => Self::My,
            "MV" => Self::Mv,
            "ML" => Self::Ml,
            "MT" => Self::Mt,
            "MQ" => Self::Mq,
            "MR" => Self::Mr,
            "MU" => Self::Mu,
            "YT" => Self::Yt,
            "MX" => Self::Mx,
            "MD" => Self::Md,
            "MC" => Self::Mc,
            "MN" => Self::Mn,
            "ME" => Self::Me,
            "MS" => Self::Ms,
            "MA" => Self::Ma,
            "MZ" => Self::Mz,
            "MM" => Self::Mm,
            "NA" => Self::Na,
            "NR" => Self::Nr,
            "NP" => Self::Np,
            "NL" => Self::Nl,
            "AN" => Self::An,
            "NC" => Self::Nc,
            "NZ" => Self::Nz,
            "NI" => Self::Ni,
            "NE" => Self::Ne,
            "NG" => Self::Ng,
            "NU" => Self::Nu,
            "NF" => Self::Nf,
            "MK" => Self::Mk,
            "NO" => Self::No,
            "OM" => Self::Om,
            "PK" => Self::Pk,
            "PS" => Self::Ps,
            "PA" => Self::Pa,
            "PG" => Self::Pg,
            "PY" => Self::Py,
            "PE" => Self::Pe,
            "PH" => Self::Ph,
            "PN" => Self::Pn,
            "PL" => Self::Pl,
            "PT" => Self::Pt,
            "QA" => Self::Qa,
            "CM" => Self::Cm,
            "RE" => Self::Re,
            "RO" => Self::Ro,
            "RU" => Self::Ru,
            "RW" => Self::Rw,
            "BL" => Self::Bl,
            "SH" => Self::Sh,
            "KN" => Self::Kn,
            "LC" => Self::Lc,
            "MF" => Self::Mf,
            "PM" => Self::Pm,
            "WS" => Self::Ws,
            "SM" => Self::Sm,
            "ST" => Self::St,
            "SA" => Self::Sa,
            "SN" => Self::Sn,
            "RS" => Self::Rs,
            "SC" => Self::Sc,
            "SL" => Self::Sl,
            "SG" => Self::Sg,
            "SX" => Self::Sx,
            "SK" => Self::Sk,
            "SI" => Self::Si,
            "SB" => Self::Sb,
            "SO" => Self::So,
            "ZA" => Self::Za,
            "GS" => Self::Gs,
            "KR" => Self::Kr,
            "SS" => Self::Ss,
            "ES" => Self::Es,
            "LK" => Self::Lk,
            "VC" => Self::Vc,
            "SD" => Self::Sd,
            "SR" => Self::Sr,
            "SJ" => Self::Sj,
            "SE" => Self::Se,
            "CH" => Self::Ch,
            "SY" => Self::Sy,
            "TW" => Self::Tw,
            "TJ" => Self::Tj,
            "TZ" => Self::Tz,
            "TH" => Self::Th,
            "TL" => Self::Tl,
            "TG" => Self::Tg,
            "TK" => Self::Tk,
            "TO" => Self::To,
            "TT" => Self::Tt,
            "TA" => Self::Ta,
            "TN" => Self::Tn,
            "TR" => Self::Tr,
            "TM" => Self::Tm,
            "TC" => Self::Tc,
            "TV" => Self::Tv,
            "UG" => Self::Ug,
            "UA" => Self::Ua,
            "AE" => Self::Ae,
            "GB" => Self::Gb,
            "US" => Self::Us,
            "UM" => Self::Um,
            "UY" => Self::Uy,
            "UZ" => Self::Uz,
            "VU" => Self::Vu,
            "VE" => Self::Ve,
            "VN" => Self::Vn,
            "VG" => Self::Vg,
            "WF" => Self::Wf,
            "EH" => Self::Eh,
            "YE" => Self::Ye,
            "ZM" => Self::Zm,
            "ZW" => Self::Zw,
            "ZZ" => Self::Zz,
            _ => return None,
        })
    }
}

/// Shopify's `CurrencyCode` enum (all 162 values of API 2026-04).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "CurrencyCode")]
pub enum CurrencyCode {
    #[graphql(name = "USD")]
    Usd,
    #[graphql(name = "EUR")]
    Eur,
    #[graphql(name = "GBP")]
    Gbp,
    #[graphql(name = "CAD")]
    Cad,
    #[graphql(name = "AFN")]
    Afn,
    #[graphql(name = "ALL")]
    All,
    #[graphql(name = "DZD")]
    Dzd,
    #[graphql(name = "AOA")]
    Aoa,
    #[graphql(name = "ARS")]
    Ars,
    #[graphql(name = "AMD")]
    Amd,
    #[graphql(name = "AWG")]
    Awg,
    #[graphql(name = "AUD")]
    Aud,
    #[graphql(name = "BBD")]
    Bbd,
    #[graphql(name = "AZN")]
    Azn,
    #[graphql(name = "BDT")]
    Bdt,
    #[graphql(name = "BSD")]
    Bsd,
    #[graphql(name = "BHD")]
    Bhd,
    #[graphql(name = "BIF")]
    Bif,
    #[graphql(name = "BYN")]
    Byn,
    #[graphql(name = "BZD")]
    Bzd,
    #[graphql(name = "BMD")]
    Bmd,
    #[graphql(name = "BTN")]
    Btn,
    #[graphql(name = "BAM")]
    Bam,
    #[graphql(name = "BRL")]
    Brl,
    #[graphql(name = "BOB")]
    Bob,
    #[graphql(name = "BWP")]
    Bwp,
    #[graphql(name = "BND")]
    Bnd,
    #[graphql(name = "BGN")]
    Bgn,
    #[graphql(name = "MMK")]
    Mmk,
    #[graphql(name = "KHR")]
    Khr,
    #[graphql(name = "CVE")]
    Cve,
    #[graphql(name = "KYD")]
    Kyd,
    #[graphql(name = "XAF")]
    Xaf,
    #[graphql(name = "CLP")]
    Clp,
    #[graphql(name = "CNY")]
    Cny,
    #[graphql(name = "COP")]
    Cop,
    #[graphql(name = "KMF")]
    Kmf,
    #[graphql(name = "CDF")]
    Cdf,
    #[graphql(name = "CRC")]
    Crc,
    #[graphql(name = "HRK")]
    Hrk,
    #[graphql(name = "CZK")]
    Czk,
    #[graphql(name = "DKK")]
    Dkk,
    #[graphql(name = "DJF")]
    Djf,
    #[graphql(name = "DOP")]
    Dop,
    #[graphql(name = "XCD")]
    Xcd,
    #[graphql(name = "EGP")]
    Egp,
    #[graphql(name = "ERN")]
    Ern,
    #[graphql(name = "ETB")]
    Etb,
    #[graphql(name = "FKP")]
    Fkp,
    #[graphql(name = "XPF")]
    Xpf,
    #[graphql(name = "FJD")]
    Fjd,
    #[graphql(name = "GIP")]
    Gip,
    #[graphql(name = "GMD")]
    Gmd,
    #[graphql(name = "GHS")]
    Ghs,
    #[graphql(name = "GTQ")]
    Gtq,
    #[graphql(name = "GYD")]
    Gyd,
    #[graphql(name = "GEL")]
    Gel,
    #[graphql(name = "GNF")]
    Gnf,
    #[graphql(name = "HTG")]
    Htg,
    #[graphql(name = "HNL")]
    Hnl,
    #[graphql(name = "HKD")]
    Hkd,
    #[graphql(name = "HUF")]
    Huf,
    #[graphql(name = "ISK")]
    Isk,
    #[graphql(name = "INR")]
    Inr,
    #[graphql(name = "IDR")]
    Idr,
    #[graphql(name = "ILS")]
    Ils,
    #[graphql(name = "IRR")]
    Irr,
    #[graphql(name = "IQD")]
    Iqd,
    #[graphql(name = "JMD")]
    Jmd,
    #[graphql(name = "JPY")]
    Jpy,
    #[graphql(name = "JEP")]
    Jep,
    #[graphql(name = "JOD")]
    Jod,
    #[graphql(name = "KZT")]
    Kzt,
    #[graphql(name = "KES")]
    Kes,
    #[graphql(name = "KID")]
    Kid,
    #[graphql(name = "KWD")]
    Kwd,
    #[graphql(name = "KGS")]
    Kgs,
    #[graphql(name = "LAK")]
    Lak,
    #[graphql(name = "LVL")]
    Lvl,
    #[graphql(name = "LBP")]
    Lbp,
    #[graphql(name = "LSL")]
    Lsl,
    #[graphql(name = "LRD")]
    Lrd,
    #[graphql(name = "LYD")]
    Lyd,
    #[graphql(name = "LTL")]
    Ltl,
    #[graphql(name = "MGA")]
    Mga,
    #[graphql(name = "MKD")]
    Mkd,
    #[graphql(name = "MOP")]
    Mop,
    #[graphql(name = "MWK")]
    Mwk,
    #[graphql(name = "MVR")]
    Mvr,
    #[graphql(name = "MRU")]
    Mru,
    #[graphql(name = "MXN")]
    Mxn,
    #[graphql(name = "MYR")]
    Myr,
    #[graphql(name = "MUR")]
    Mur,
    #[graphql(name = "MDL")]
    Mdl,
    #[graphql(name = "MAD")]
    Mad,
    #[graphql(name = "MNT")]
    Mnt,
    #[graphql(name = "MZN")]
    Mzn,
    #[graphql(name = "NAD")]
    Nad,
    #[graphql(name = "NPR")]
    Npr,
    #[graphql(name = "ANG")]
    Ang,
    #[graphql(name = "NZD")]
    Nzd,
    #[graphql(name = "NIO")]
    Nio,
    #[graphql(name = "NGN")]
    Ngn,
    #[graphql(name = "NOK")]
    Nok,
    #[graphql(name = "OMR")]
    Omr,
    #[graphql(name = "PAB")]
    Pab,
    #[graphql(name = "PKR")]
    Pkr,
    #[graphql(name = "PGK")]
    Pgk,
    #[graphql(name = "PYG")]
    Pyg,
    #[graphql(name = "PEN")]
    Pen,
    #[graphql(name = "PHP")]
    Php,
    #[graphql(name = "PLN")]
    Pln,
    #[graphql(name = "QAR")]
    Qar,
    #[graphql(name = "RON")]
    Ron,
    #[graphql(name = "RUB")]
    Rub,
    #[graphql(name = "RWF")]
    Rwf,
    #[graphql(name = "WST")]
    Wst,
    #[graphql(name = "SHP")]
    Shp,
    #[graphql(name = "SAR")]
    Sar,
    #[graphql(name = "RSD")]
    Rsd,
    #[graphql(name = "SCR")]
    Scr,
    #[graphql(name = "SLL")]
    Sll,
    #[graphql(name = "SGD")]
    Sgd,
    #[graphql(name = "SDG")]
    Sdg,
    #[graphql(name = "SOS")]
    Sos,
    #[graphql(name = "SYP")]
    Syp,
    #[graphql(name = "ZAR")]
    Zar,
    #[graphql(name = "KRW")]
    Krw,
    #[graphql(name = "SSP")]
    Ssp,
    #[graphql(name = "SBD")]
    Sbd,
    #[graphql(name = "LKR")]
    Lkr,
    #[graphql(name = "SRD")]
    Srd,
    #[graphql(name = "SZL")]
    Szl,
    #[graphql(name = "SEK")]
    Sek,
    #[graphql(name = "CHF")]
    Chf,
    #[graphql(name = "TWD")]
    Twd,
    #[graphql(name = "THB")]
    Thb,
    #[graphql(name = "TJS")]
    Tjs,
    #[graphql(name = "TZS")]
    Tzs,
    #[graphql(name = "TOP")]
    Top,
    #[graphql(name = "TTD")]
    Ttd,
    #[graphql(name = "TND")]
    Tnd,
    #[graphql(name = "TRY")]
    Try,
    #[graphql(name = "TMT")]
    Tmt,
    #[graphql(name = "UGX")]
    Ugx,
    #[graphql(name = "UAH")]
    Uah,
    #[graphql(name = "AED")]
    Aed,
    #[graphql(name = "UYU")]
    Uyu,
    #[graphql(name = "UZS")]
    Uzs,
    #[graphql(name = "VUV")]
    Vuv,
    #[graphql(name = "VES")]
    Ves,
    #[graphql(name = "VND")]
    Vnd,
    #[graphql(name = "XOF")]
    Xof,
    #[graphql(name = "YER")]
    Yer,
    #[graphql(name = "ZMW")]
    Zmw,
    #[graphql(name = "USDC")]
    Usdc,
    #[graphql(name = "BYR")]
    Byr,
    #[graphql(name = "STD")]
    Std,
    #[graphql(name = "STN")]
    Stn,
    #[graphql(name = "VED")]
    Ved,
    #[graphql(name = "VEF")]
    Vef,
    #[graphql(name = "XXX")]
    Xxx,
}

impl CurrencyCode {
    /// The code as Shopify spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Usd => "USD",
            Self::Eur => "EUR",
            Self::Gbp => "GBP",
            Self::Cad => "CAD",
            Self::Afn => "AFN",
            Self::All => "ALL",
            Self::Dzd => "DZD",
            Self::Aoa => "AOA",
            Self::Ars => "ARS",
            Self::Amd => "AMD",
            Self::Awg => "AWG",
            Self::Aud => "AUD",
            Self::Bbd => "BBD",
            Self::Azn => "AZN",
            Self::Bdt => "BDT",
            Self::Bsd => "BSD",
            Self::Bhd => "BHD",
            Self::Bif => "BIF",
            Self::Byn => "BYN",
            Self::Bzd => "BZD",
            Self::Bmd => "BMD",
            Self::Btn => "BTN",
            Self::Bam => "BAM",
            Self::Brl => "BRL",
            Self::Bob => "BOB",
            Self::Bwp => "BWP",
            Self::Bnd => "BND",
            Self::Bgn => "BGN",
            Self::Mmk => "MMK",
            Self::Khr => "KHR",
            Self::Cve => "CVE",
            Self::Kyd => "KYD",
            Self::Xaf => "XAF",
            Self::Clp => "CLP",
            Self::Cny => "CNY",
            Self::Cop => "COP",
            Self::Kmf => "KMF",
            Self::Cdf => "CDF",
            Self::Crc => "CRC",
            Self::Hrk => "HRK",
            Self::Czk => "CZK",
            Self::Dkk => "DKK",
            Self::Djf => "DJF",
            Self::Dop => "DOP",
            Self::Xcd => "XCD",
            Self::Egp => "EGP",
            Self::Ern => "ERN",
            Self::Etb => "ETB",
            Self::Fkp => "FKP",
            Self::Xpf => "XPF",
            Self::Fjd => "FJD",
            Self::Gip => "GIP",
            Self::Gmd => "GMD",
            Self::Ghs => "GHS",
            Self::Gtq => "GTQ",
            Self::Gyd => "GYD",
            Self::Gel => "GEL",
            Self::Gnf => "GNF",
            Self::Htg => "HTG",
            Self::Hnl => "HNL",
            Self::Hkd => "HKD",
            Self::Huf => "HUF",
            Self::Isk => "ISK",
            Self::Inr => "INR",
            Self::Idr => "IDR",
            Self::Ils => "ILS",
            Self::Irr => "IRR",
            Self::Iqd => "IQD",
            Self::Jmd => "JMD",
            Self::Jpy => "JPY",
            Self::Jep => "JEP",
            Self::Jod => "JOD",
            Self::Kzt => "KZT",
            Self::Kes => "KES",
            Self::Kid => "KID",
            Self::Kwd => "KWD",
            Self::Kgs => "KGS",
            Self::Lak => "LAK",
            Self::Lvl => "LVL",
            Self::Lbp => "LBP",
            Self::Lsl => "LSL",
            Self::Lrd => "LRD",
            Self::Lyd => "LYD",
            Self::Ltl => "LTL",
            Self::Mga => "MGA",
            Self::Mkd => "MKD",
            Self::Mop => "MOP",
            Self::Mwk => "MWK",
            Self::Mvr => "MVR",
            Self::Mru => "MRU",
            Self::Mxn => "MXN",
            Self::Myr => "MYR",
            Self::Mur => "MUR",
            Self::Mdl => "MDL",
            Self::Mad => "MAD",
            Self::Mnt => "MNT",
            Self::Mzn => "MZN",
            Self::Nad => "NAD",
            Self::Npr => "NPR",
            Self::Ang => "ANG",
            Self::Nzd => "NZD",
            Self::Nio => "NIO",
            Self::Ngn => "NGN",
            Self::Nok => "NOK",
            Self::Omr => "OMR",
            Self::Pab => "PAB",
            Self::Pkr => "PKR",
            Self::Pgk => "PGK",
            Self::Pyg => "PYG",
            Self::Pen => "PEN",
            Self::Php => "PHP",
            Self::Pln => "PLN",
            Self::Qar => "QAR",
            Self::Ron => "RON",
            Self::Rub => "RUB",
            Self::Rwf => "RWF",
            Self::Wst => "WST",
            Self::Shp => "SHP",
            Self::Sar => "SAR",
            Self::Rsd => "RSD",
            Self::Scr => "SCR",
            Self::Sll => "SLL",
            Self::Sgd => "SGD",
            Self::Sdg => "SDG",
            Self::Sos => "SOS",
            Self::Syp => "SYP",
            Self::Zar => "ZAR",
            Self::Krw => "KRW",
            Self::Ssp => "SSP",
            Self::Sbd => "SBD",
            Self::Lkr => "LKR",
            Self::Srd => "SRD",
            Self::Szl => "SZL",
            Self::Sek => "SEK",
            Self::Chf => "CHF",
            Self::Twd => "TWD",
            Self::Thb => "THB",
            Self::Tjs => "TJS",
            Self::Tzs => "TZS",
            Self::Top => "TOP",
            Self::Ttd => "TTD",
            Self::Tnd => "TND",
            Self::Try => "TRY",
            Self::Tmt => "TMT",
            Self::Ugx => "UGX",
            Self::Uah => "UAH",
            Self::Aed => "AED",
            Self::Uyu => "UYU",
            Self::Uzs => "UZS",
            Self::Vuv => "VUV",
            Self::Ves => "VES",
            Self::Vnd => "VND",
            Self::Xof => "XOF",
            Self::Yer => "YER",
            Self::Zmw => "ZMW",
            Self::Usdc => "USDC",
            Self::Byr => "BYR",
            Self::Std => "STD",
            Self::Stn => "STN",
            Self::Ved => "VED",
            Self::Vef => "VEF",
            Self::Xxx => "XXX",
        }
    }

    /// Parse a code as Shopify spells it.
    pub fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "USD" => Self::Usd,
            "EUR" => Self::Eur,
            "GBP" => Self::Gbp,
            "CAD" => Self::Cad,
            "AFN" => Self::Afn,
            "ALL" => Self::All,
            "DZD" => Self::Dzd,
            "AOA" => Self::Aoa,
            "ARS" => Self::Ars,
            "AMD" => Self::Amd,
            "AWG" => Self::Awg,
            "AUD" => Self::Aud,
            "BBD" => Self::Bbd,
            "AZN" => Self::Azn,
            "BDT" => Self::Bdt,
            "BSD" => Self::Bsd,
            "BHD" => Self::Bhd,
            "BIF" => Self::Bif,
            "BYN" => Self::Byn,
            "BZD" => Self::Bzd,
            "BMD" => Self::Bmd,
            "BTN" => Self::Btn,
            "BAM" => Self::Bam,
            "BRL" => Self::Brl,
            "BOB" => Self::Bob,
            "BWP" => Self::Bwp,
            "BND" => Self::Bnd,
            "BGN" => Self::Bgn,
            "MMK" => Self::Mmk,
            "KHR" => Self::Khr,
            "CVE" => Self::Cve,
            "KYD" => Self::Kyd,
            "XAF" => Self::Xaf,
            "CLP" => Self::Clp,
            "CNY" => Self::Cny,
            "COP" => Self::Cop,
            "KMF" => Self::Kmf,
            "CDF" => Self::Cdf,
            "CRC" => Self::Crc,
            "HRK" => Self::Hrk,
            "CZK" => Self::Czk,
            "DKK" => Self::Dkk,
            "DJF" => Self::Djf,
            "DOP" => Self::Dop,
            "XCD" => Self::Xcd,
            "EGP" => Self::Egp,
            "ERN" => Self::Ern,
            "ETB" => Self::Etb,
            "FKP" => Self::Fkp,
            "XPF" => Self::Xpf,
            "FJD" => Self::Fjd,
            "GIP" => Self::Gip,
            "GMD" => Self::Gmd,
            "GHS" => Self::Ghs,
            "GTQ" => Self::Gtq,
            "GYD" => Self::Gyd,
            "GEL" => Self::Gel,
            "GNF" => Self::Gnf,
            "HTG" => Self::Htg,
            "HNL" => Self::Hnl,
            "HKD" => Self::Hkd,
            "HUF" => Self::Huf,
            "ISK" => Self::Isk,
            "INR" => Self::Inr,
            "IDR" => Self::Idr,
            "ILS" => Self::Ils,
            "IRR" => Self::Irr,
            "IQD" => Self::Iqd,
            "JMD" => Self::Jmd,
            "JPY" => Self::Jpy,
            "JEP" => Self::Jep,
            "JOD" => Self::Jod,
            "KZT" => Self::Kzt,
            "KES" => Self::Kes,
            "KID" => Self::Kid,
            "KWD" => Self::Kwd,
            "KGS" => Self::Kgs,
            "LAK" => Self::Lak,
            "LVL" => Self::Lvl,
            "LBP" => Self::Lbp,
            "LSL" => Self::Lsl,
            "LRD" => Self::Lrd,
            "LYD" => Self::Lyd,
            "LTL" => Self::Ltl,
            "MGA" => Self::Mga,
            "MKD" => Self::Mkd,
            "MOP" => Self::Mop,
            "MWK" => Self::Mwk,
            "MVR" => Self::Mvr,
            "MRU" => Self::Mru,
            "MXN" => Self::Mxn,
            "MYR" => Self::Myr,
            "MUR" => Self::Mur,
            "MDL" => Self::Mdl,
            "MAD" => Self::Mad,
            "MNT" => Self::Mnt,
            "MZN" => Self::Mzn,
            "NAD" => Self::Nad,
            "NPR" => Self::Npr,
            "ANG" => Self::Ang,
            "NZD" => Self::Nzd,
            "NIO" => Self::Nio,
            "NGN" => Self::Ngn,
            "NOK" => Self::Nok,
            "OMR" => Self::Omr,
            "PAB" => Self::Pab,
            "PKR" => Self::Pkr,
            "PGK" => Self::Pgk,
            "PYG" => Self::Pyg,
            "PEN" => Self::Pen,
            "PHP" => Self::Php,
            "PLN" => Self::Pln,
            "QAR" => Self::Qar,
            "RON" => Self::Ron,
            "RUB" => Self::Rub,
            "RWF" => Self::Rwf,
            "WST" => Self::Wst,
            "SHP" => Self::Shp,
            "SAR" => Self::Sar,
            "RSD" => Self::Rsd,
            "SCR" => Self::Scr,
            "SLL" => Self::Sll,
            "SGD" => Self::Sgd,
            "SDG" => Self::Sdg,
            "SOS" => Self::Sos,
            "SYP" => Self::Syp,
            "ZAR" => Self::Zar,
            "KRW" => Self::Krw,
            "SSP" => Self::Ssp,
            "SBD" => Self::Sbd,
            "LKR" => Self::Lkr,
            "SRD" => Self::Srd,
            "SZL" => Self::Szl,
            "SEK" => Self::Sek,
            "CHF" => Self::Chf,
            "TWD" => Self::Twd,
            "THB" => Self::Thb,
            "TJS" => Self::Tjs,
            "TZS" => Self::Tzs,
            "TOP" => Self::Top,
            "TTD" => Self::Ttd,
            "TND" => Self::Tnd,
            "TRY" => Self::Try,
            "TMT" => Self::Tmt,
            "UGX" => Self::Ugx,
            "UAH" => Self::Uah,
            "AED" => Self::Aed,
            "UYU" => Self::Uyu,
            "UZS" => Self::Uzs,
            "VUV" => Self::Vuv,
            "VES" => Self::Ves,
            "VND" => Self::Vnd,
            "XOF" => Self::Xof,
            "YER" => Self::Yer,
            "ZMW" => Self::Zmw,
            "USDC" => Self::Usdc,
            "BYR" => Self::Byr,
            "STD" => Self::Std,
            "STN" => Self::Stn,
            "VED" => Self::Ved,
            "VEF" => Self::Vef,
            "XXX" => Self::Xxx,
            _ => return None,
        })
    }
}
