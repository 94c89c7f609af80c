{#- Entities whose website home page carries a P2P-finance risk word of
    seeds/risk_keywords.csv: one row per website and word found (case-insensitive), with
    the first occurrence's position and 20 characters of text either side of it. -#}
with

filings as (

    select * from {{ ref('stg_lake__website_filings') }}
    where homepage_text is not null
        and uscc is not null

),

keywords as (

    select * from {{ ref('risk_keywords') }}

),

matches as (

    select
        filings.uscc,
        filings.domain,
        filings.crawled_at,
        keywords.keyword,
        keywords.category as keyword_category,
        strpos(lower(filings.homepage_text), lower(keywords.keyword)) as keyword_position,
        filings.homepage_text
    from filings
    inner join keywords
        on strpos(lower(filings.homepage_text), lower(keywords.keyword)) > 0

),

registry as (

    select
        uscc,
        entity_name,
        registered_district
    from {{ ref('stg_lake__entities') }}

),

final as (

    select
        matches.uscc,
        registry.entity_name,
        registry.registered_district,
        matches.domain,
        matches.keyword,
        matches.keyword_category,
        matches.keyword_position,
        substr(
            matches.homepage_text,
            greatest(matches.keyword_position - 20, 1),
            least(matches.keyword_position - 1, 20) + length(matches.keyword) + 20
        ) as snippet,
        count(*) over (partition by matches.uscc, matches.domain) as keywords_on_site,
        matches.crawled_at,
        {{ district_name('districts.district_name') }} as registered_district_name
    from matches
    left join registry on registry.uscc = matches.uscc
    left join {{ ref('districts') }} as districts
        on districts.district_code = registry.registered_district

)

select * from final
